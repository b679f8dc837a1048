"""Management commands of tracking."""
