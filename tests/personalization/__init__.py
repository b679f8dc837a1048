"""Tests of personalization."""
