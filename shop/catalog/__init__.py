"""The catalog: departments, categories, brands, products, listing and search."""
