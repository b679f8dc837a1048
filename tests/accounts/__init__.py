"""Tests of shop/accounts."""
