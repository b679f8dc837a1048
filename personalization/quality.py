"""A trained version's offline quality: the evaluation protocol on a time split of its run's own events.

The figures come from personalization/evaluation (the split, truth and metrics of
EVALUATION.md), never from a second implementation: the last 20% of the training window is
held out, the version's algorithm and popularity are fitted on the rest, and both rank for the
same sampled shoppers. The served artifact is fitted on everything, as before; these figures
say how well the same algorithm did on days it had not seen.

The rows keep the weights trust gave them over the whole window (personalization/trust.py caps
an item's unproven browsing by what it got in all of it), so the held-out days nudge the
train part's weights a little; nothing else of them reaches the fit.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from django.conf import settings

from .evaluation.noise import FEW_HITS, paired_difference
from .evaluation.protocol import TEST_SHARE, Result
from .evaluation.runner import BASELINE, Candidate, evaluation_run
from .recommenders.registry import algorithm

# Shoppers ranked per measurement at most, drawn with a fixed seed: ranking them is most of a
# measurement's time and grows with their number. On the demo data 176 shoppers give NDCG@10 a
# standard error of about 0.01, so 2,000 would bring it near 0.003: more buys little.
QUALITY_MAX_USERS = 2_000
# Fewer held-out shoppers than this and a figure is no measurement at all.
QUALITY_MIN_USERS = 20

MEASURED, TOO_LITTLE, FAILED = "measured", "too_little", "failed"
METRICS = {"ndcg": "ndcg@10", "hit_rate": "hr@10", "precision": "p@10", "recall": "r@20", "coverage": "coverage@10"}


def _figures(result: Result) -> dict[str, Any]:
    metrics = result.metrics
    return {
        **{label: round(getattr(metrics, field), 6) for field, label in METRICS.items()},
        "ndcg@10_se": round(metrics.ndcg_se, 6),
        "hits": metrics.hits,
    }


def version_quality(*, name: str, log: pd.DataFrame) -> dict[str, Any]:
    """What a version of `name` trained on `log` scores on the log's held-out last days, beside
    popularity on the same shoppers: a dict for ModelVersion.quality.

    A log too small to hold out from gives status "too_little" with why; an algorithm that
    fails on the train part gives "failed" with the error. Either way training goes on.
    """
    started = time.monotonic()
    split: dict[str, Any] = {"split": "time", "held_out_share": TEST_SHARE, "max_users": QUALITY_MAX_USERS, "users": 0}
    if log.empty:
        return {**split, "status": TOO_LITTLE, "reason": "no events in the training window", **_took(started)}
    candidates = [
        Candidate(label=label, cls=algorithm(label), params=settings.RECOMMENDER_PARAMS.get(label, {}))
        for label in dict.fromkeys((BASELINE, name))
    ]
    try:
        run = evaluation_run(
            log=log, dataset="events", candidates=candidates, max_users=QUALITY_MAX_USERS, measure_memory=False
        )
    except ValueError:
        # The runner refuses a split without anyone to evaluate (a model's own errors are its failures).
        reason = "nobody came back in the held-out days to a product new to them"
        return {**split, "status": TOO_LITTLE, "reason": reason, **_took(started)}
    split |= {"cut": run.cut.isoformat(), "users": run.users, "eligible_users": run.eligible}
    if run.users < QUALITY_MIN_USERS:
        reason = f"only {run.users} shopper(s) came back in the held-out days to a product new to them"
        return {**split, "status": TOO_LITTLE, "reason": reason, **_took(started)}
    results = {result.algorithm: result for result in run.results}
    if name in run.failures:
        return {**split, "status": FAILED, "reason": run.failures[name], **_took(started)}
    ours = results[name]
    quality = {**split, "status": MEASURED, "metrics": _figures(ours)}
    baseline = results.get(BASELINE)
    if baseline is not None and name != BASELINE:
        difference = paired_difference(ours.metrics.per_user["ndcg"], baseline.metrics.per_user["ndcg"])
        quality["baseline"] = {
            "name": BASELINE,
            "metrics": _figures(baseline),
            "ndcg@10_difference": round(difference.mean, 6),
            "ndcg@10_difference_se": round(difference.se, 6),
            # Within two paired errors a gap is a tie; too few hits is said of each figure on its own
            # (as the evaluation report does).
            "tie": difference.within_noise,
        }
    return {**quality, **_took(started)}


def _took(started: float) -> dict[str, float]:
    return {"seconds": round(time.monotonic() - started, 3)}


def _shoppers(count: int) -> str:
    return f"{count:,} held-out shopper" + ("" if count == 1 else "s")


def quality_summary(quality: dict[str, Any] | None) -> str:
    """One line for the versions list: 'NDCG@10 0.121 on 1,234 held-out shoppers (popularity 0.080)'."""
    if not quality:
        return "not measured (trained before quality was measured)"
    status = quality.get("status")
    if status == TOO_LITTLE:
        return f"not enough data to measure: {quality['reason']}"
    if status != MEASURED:
        return f"not measured: {quality.get('reason') or 'unknown error'}"
    text = f"NDCG@10 {quality['metrics']['ndcg@10']:.3f} on {_shoppers(quality['users'])}"
    baseline = quality.get("baseline")
    if baseline:
        text += f" (popularity {baseline['metrics']['ndcg@10']:.3f})"
    return text


def quality_detail(quality: dict[str, Any] | None) -> list[str]:
    """Sentences for a version's page: the figures, the split they come from, and how far to trust them."""
    if not quality or quality.get("status") != MEASURED:
        return [quality_summary(quality)]
    figures = quality["metrics"]
    cut = datetime.fromisoformat(quality["cut"]).astimezone(UTC)
    sampled = (
        f", a fixed sample of {quality['users']:,} of the {quality['eligible_users']:,} who qualified"
        if quality["eligible_users"] > quality["users"]
        else ""
    )
    lines = [
        f"NDCG@10 {figures['ndcg@10']:.3f} ± {figures['ndcg@10_se']:.3f}, "
        f"hit rate@10 {figures['hr@10']:.1%}, precision@10 {figures['p@10']:.3f}, recall@20 {figures['r@20']:.3f}, "
        f"coverage@10 {figures['coverage@10']:.1%}, on {_shoppers(quality['users'])}{sampled}.",
        f"Held out: every event after {cut:%d %b %Y %H:%M} UTC (the last {quality['held_out_share']:.0%} of the "
        f"training window); the same algorithm was fitted on the events before, and ranked for each shopper who "
        f"came back afterwards to a product new to them. The version served is fitted on all events.",
        _hits_line(figures["hits"]),
    ]
    baseline = quality.get("baseline")
    if baseline:
        theirs = baseline["metrics"]
        gap, error = baseline["ndcg@10_difference"], baseline["ndcg@10_difference_se"]
        side = "ahead of" if gap > 0 else "behind"
        verdict = "a tie within the noise" if baseline["tie"] else f"{side} popularity by {abs(gap):.3f} ± {error:.3f}"
        lines.append(
            f"Popularity on the same shoppers: NDCG@10 {theirs['ndcg@10']:.3f}, hit rate@10 {theirs['hr@10']:.1%} "
            f"({theirs['hits']:,} hits): {verdict}."
        )
    return lines


def _hits_line(hits: int) -> str:
    if hits < FEW_HITS:
        return f"It rests on {hits:,} hits in the top 10 lists: below {FEW_HITS}, read it as noise."
    return f"It rests on {hits:,} hits in the top 10 lists."
