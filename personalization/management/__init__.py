"""Management commands of personalization."""
