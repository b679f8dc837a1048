"""Tests of shop/catalog."""
