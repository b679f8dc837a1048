"""A shopper simulator: personas that browse, search, fill carts and buy, through the real ingest path."""
