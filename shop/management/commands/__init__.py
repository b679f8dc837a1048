"""Management commands of the storefront."""
