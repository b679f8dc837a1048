"""An evaluation run as a printed table, a CSV, a JSON and an SVG bar chart of NDCG@10."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from .noise import FEW_HITS, TIE_ERRORS, paired_difference
from .protocol import Result
from .runner import Run

COLUMNS = (
    ("algorithm", "algorithm"),
    ("ndcg_at_10", "NDCG@10"),
    ("ndcg_at_10_se", "±se"),
    ("diff_to_best", "Δbest"),
    ("diff_to_best_se", "±Δse"),
    ("precision_at_10", "P@10"),
    ("recall_at_20", "R@20"),
    ("hit_rate_at_10", "HR@10"),
    ("hr_at_20", "HR@20"),
    ("mrr_at_20", "MRR@20"),
    ("coverage_at_10", "cov@10"),
    ("hits", "hits"),
    ("fit_seconds", "fit s"),
    ("peak_mb", "peak MB"),
)
# Standard errors of the other figures, in the CSV and JSON (the table shows NDCG@10's).
ERRORS = ("precision_at_10_se", "recall_at_20_se", "hit_rate_at_10_se", "hr_at_20_se", "mrr_at_20_se")


def result_row(result: Result, *, best: Result | None = None) -> dict[str, Any]:
    """One algorithm's figures; beside the best one (by NDCG@10), the paired difference of NDCG@10
    on the same users and whether it is within the noise (TIE_ERRORS paired errors, or too few hits)."""
    metrics = result.metrics
    difference = (
        paired_difference(metrics.per_user["ndcg"], best.metrics.per_user["ndcg"])
        if best is not None and "ndcg" in metrics.per_user and "ndcg" in best.metrics.per_user
        else None
    )
    return {
        "algorithm": result.algorithm,
        "ndcg_at_10": metrics.ndcg,
        "ndcg_at_10_se": metrics.ndcg_se,
        "diff_to_best": difference.mean if difference else None,
        "diff_to_best_se": difference.se if difference else None,
        "tie_with_best": bool(difference.within_noise) if difference else None,
        "precision_at_10": metrics.precision,
        "precision_at_10_se": metrics.precision_se,
        "recall_at_20": metrics.recall,
        "recall_at_20_se": metrics.recall_se,
        "hit_rate_at_10": metrics.hit_rate,
        "hit_rate_at_10_se": metrics.hit_rate_se,
        "hr_at_20": metrics.hr20,
        "hr_at_20_se": metrics.hr20_se,
        "mrr_at_20": metrics.mrr20,
        "mrr_at_20_se": metrics.mrr20_se,
        "coverage_at_10": metrics.coverage,
        "hits": metrics.hits,
        "few_hits": metrics.hits < FEW_HITS,
        "fit_seconds": result.fit_seconds,
        "peak_mb": result.peak_bytes / 2**20,
        "seed": result.seed,
        "seed_ndcgs": result.runs,
        "params": _plain(result.params),
    }


def run_rows(run: Run) -> list[dict[str, Any]]:
    """Every result's row, best NDCG@10 first, each with its difference to that best."""
    results = sorted(run.results, key=lambda result: -result.metrics.ndcg)
    best = results[0] if results else None
    return [result_row(result, best=best) for result in results]


def _plain(value: Any) -> Any:
    """Parameters as JSON can hold them (a ratings function by its name)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return getattr(value, "__qualname__", repr(value))


def run_summary(run: Run) -> str:
    return (
        f"{run.dataset} ({run.design}, {run.split} split): cut {run.cut:%Y-%m-%d %H:%M} UTC; "
        f"{run.users:,} {run.evaluated} evaluated; "
        f"train {run.train_rows:,} rows, {run.train_users:,} users, {run.train_items:,} items; "
        f"{run.test_rows:,} test rows; {run.absent_share:.1%} of truth items absent from train."
    )


def table_lines(run: Run) -> list[str]:
    """The run as fixed-width lines: one per algorithm, best NDCG@10 first, failures at the end."""
    rows = run_rows(run)
    width = max([len(row["algorithm"]) for row in rows] + [9])
    header = f"{'algorithm':{width}s} " + " ".join(f"{label:>8s}" for _, label in COLUMNS[1:])
    lines = [run_summary(run), header, "-" * len(header)]
    for position, row in enumerate(rows):
        cells = [
            f"{row['ndcg_at_10']:8.4f}",
            f"{row['ndcg_at_10_se']:8.4f}",
            f"{row['diff_to_best']:+8.4f}" if row["diff_to_best"] is not None else f"{'':8s}",
            f"{row['diff_to_best_se']:8.4f}" if row["diff_to_best_se"] is not None else f"{'':8s}",
            *(f"{row[key]:8.4f}" for key in ("precision_at_10", "recall_at_20", "hit_rate_at_10", "hr_at_20")),
            f"{row['mrr_at_20']:8.4f}",
            f"{row['coverage_at_10']:8.4f}",
            f"{row['hits']:8d}",
            f"{row['fit_seconds']:8.2f}",
            f"{row['peak_mb']:8.1f}",
        ]
        notes = []
        if position == 0:
            notes.append("best")
        elif row["tie_with_best"]:
            notes.append(f"tie with the best (within {TIE_ERRORS:g} paired se)")
        if row["few_hits"]:
            notes.append(f"fewer than {FEW_HITS} hits: noise")
        if row["seed_ndcgs"]:
            notes.append(f"median of seeds 0,1,2 (NDCG@10 {', '.join(f'{v:.4f}' for v in row['seed_ndcgs'])})")
        lines.append(f"{row['algorithm']:{width}s} " + " ".join(cells) + "  " + "; ".join(notes))
    for label, reason in run.failures.items():
        lines.append(f"{label:{width}s} failed: {reason}")
    unit = run.evaluated
    lines.append(
        f"±se: standard error over evaluated {unit}; Δbest: paired difference of NDCG@10 to the best on the same "
        f"{unit}, ±Δse its standard error. fit s: mean wall time of the fits; peak MB: Python-heap peak of one "
        "more fit, traced (tracemalloc)."
    )
    return lines


def ndcg_chart_svg(run: Run) -> str:
    """A standalone SVG: one bar of NDCG@10 per algorithm, best first (shop.charts draws it, labels escaped)."""
    from shop.charts import bar_chart

    rows = sorted(((r.algorithm, r.metrics.ndcg) for r in run.results), key=lambda row: -row[1])
    figure = str(
        bar_chart(
            rows,
            title=f"NDCG@10 on {run.dataset} ({run.split} split, {run.users:,} {run.evaluated})",
            value_format="{:.4f}",
            table=False,
        )
    )
    start, end = figure.index("<svg"), figure.rindex("</svg>") + len("</svg>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + figure[start:end] + "\n"


def run_write(run: Run, *, directory: Path) -> list[Path]:
    """Writes <dataset>_<split>.csv, .json and _ndcg.svg into directory; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{run.dataset}_{run.split}" if run.protocol == "users" else f"{run.dataset}_{run.protocol}_{run.split}"
    if run.reveal == "clicks":
        stem = f"{run.dataset}_{run.protocol}_clicks_{run.split}"
    rows = run_rows(run)
    csv_path = directory / f"{stem}.csv"
    fieldnames = [key for key, _ in COLUMNS] + [*ERRORS, "tie_with_best", "few_hits", "seed", "params"]
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        for row in rows:
            writer.writerow({**{key: row[key] for key in fieldnames}, "params": json.dumps(row["params"])})
    json_path = directory / f"{stem}.json"
    summary = {f.name: getattr(run, f.name) for f in fields(run) if f.name not in ("results", "cut")}
    document = {**summary, "cut": run.cut.isoformat(), "results": rows}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    svg_path = directory / f"{stem}_ndcg.svg"
    svg_path.write_text(ndcg_chart_svg(run), encoding="utf-8")
    return [csv_path, json_path, svg_path]
