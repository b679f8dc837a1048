"""Profiles, recommenders, segments and the blocks a page shows a visitor."""
