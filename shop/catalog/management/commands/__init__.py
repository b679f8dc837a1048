"""Management commands of the catalog: seed_demo and import_catalog."""
