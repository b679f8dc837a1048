"""Template tags of the live channel."""
