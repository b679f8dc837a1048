"""Carts, checkout and orders, with stock kept honest under concurrency."""
