"""Tests of shop/orders."""
