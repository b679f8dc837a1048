"""Recommenders: one contract (base.py), one module per algorithm family, a registry."""
