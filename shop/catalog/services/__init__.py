"""Writes of the catalog, one module per subdomain: demo seed, retail import, reviews."""
