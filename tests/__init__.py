"""The shop's test suite; it mirrors the source tree."""
