"""Offline evaluation of the recommenders: the protocol of EVALUATION.md, dataset loaders, reports and tuning."""
