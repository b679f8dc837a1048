"""Template tags and filters of the storefront."""
