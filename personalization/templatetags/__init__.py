"""Template tags of personalization."""
