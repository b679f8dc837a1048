"""Experiments on what pages show: assignment, exposure, metrics and their statistics."""
