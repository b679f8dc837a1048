"""Analyses of the event record for merchandisers: funnels, data quality, volume anomalies."""
