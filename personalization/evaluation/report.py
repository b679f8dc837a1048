"""An evaluation run as a printed table, a CSV, a JSON and an SVG bar chart of NDCG@10."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from .protocol import Result
from .runner import Run

COLUMNS = (
    ("algorithm", "algorithm"),
    ("ndcg_at_10", "NDCG@10"),
    ("precision_at_10", "P@10"),
    ("recall_at_20", "R@20"),
    ("hit_rate_at_10", "HR@10"),
    ("coverage_at_10", "cov@10"),
    ("hits", "hits"),
    ("fit_seconds", "fit s"),
    ("peak_mb", "peak MB"),
)
# Below this many top-10 hits a figure is noise (EVALUATION.md).
FEW_HITS = 100


def result_row(result: Result) -> dict[str, Any]:
    metrics = result.metrics
    return {
        "algorithm": result.algorithm,
        "ndcg_at_10": metrics.ndcg,
        "precision_at_10": metrics.precision,
        "recall_at_20": metrics.recall,
        "hit_rate_at_10": metrics.hit_rate,
        "coverage_at_10": metrics.coverage,
        "hits": metrics.hits,
        "fit_seconds": result.fit_seconds,
        "peak_mb": result.peak_bytes / 2**20,
        "seed": result.seed,
        "seed_ndcgs": result.runs,
        "params": _plain(result.params),
    }


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
        f"{run.dataset} ({run.split} split): cut {run.cut:%Y-%m-%d %H:%M} UTC; {run.users:,} users evaluated; "
        f"train {run.train_rows:,} rows, {run.train_users:,} users, {run.train_items:,} items; "
        f"{run.test_rows:,} test rows; {run.absent_share:.1%} of truth items absent from train."
    )


def table_lines(run: Run) -> list[str]:
    """The run as fixed-width lines: one per algorithm, best NDCG@10 first, failures at the end."""
    rows = sorted((result_row(result) for result in run.results), key=lambda row: -row["ndcg_at_10"])
    width = max([len(label) for _, label in COLUMNS[:1]] + [len(row["algorithm"]) for row in rows] + [9])
    header = f"{'algorithm':{width}s} " + " ".join(f"{label:>8s}" for _, label in COLUMNS[1:])
    lines = [run_summary(run), header, "-" * len(header)]
    for row in rows:
        cells = [
            f"{row['ndcg_at_10']:8.4f}",
            f"{row['precision_at_10']:8.4f}",
            f"{row['recall_at_20']:8.4f}",
            f"{row['hit_rate_at_10']:8.4f}",
            f"{row['coverage_at_10']:8.4f}",
            f"{row['hits']:8d}",
            f"{row['fit_seconds']:8.2f}",
            f"{row['peak_mb']:8.1f}",
        ]
        note = ""
        if row["seed_ndcgs"]:
            note += f"  median of seeds 0,1,2 (NDCG@10 {', '.join(f'{v:.4f}' for v in row['seed_ndcgs'])})"
        if row["hits"] < FEW_HITS:
            note += f"  fewer than {FEW_HITS} hits: noise"
        lines.append(f"{row['algorithm']:{width}s} " + " ".join(cells) + note)
    for label, reason in run.failures.items():
        lines.append(f"{label:{width}s} failed: {reason}")
    lines.append("fit s: mean wall time of the fits; peak MB: Python-heap peak of one more fit, traced (tracemalloc).")
    return lines


def ndcg_chart_svg(run: Run) -> str:
    """A standalone SVG: one bar of NDCG@10 per algorithm, best first (shop.charts draws it, labels escaped)."""
    from shop.charts import bar_chart

    rows = sorted(((r.algorithm, r.metrics.ndcg) for r in run.results), key=lambda row: -row[1])
    figure = str(
        bar_chart(
            rows,
            title=f"NDCG@10 on {run.dataset} ({run.split} split, {run.users:,} users)",
            value_format="{:.4f}",
            table=False,
        )
    )
    start, end = figure.index("<svg"), figure.rindex("</svg>") + len("</svg>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + figure[start:end] + "\n"


def run_write(run: Run, *, directory: Path) -> list[Path]:
    """Writes <dataset>_<split>.csv, .json and _ndcg.svg into directory; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{run.dataset}_{run.split}"
    rows = [result_row(result) for result in run.results]
    csv_path = directory / f"{stem}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[key for key, _ in COLUMNS] + ["seed", "params"])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**{key: row[key] for key, _ in COLUMNS}, "seed": row["seed"], "params": json.dumps(row["params"])}
            )
    json_path = directory / f"{stem}.json"
    summary = {f.name: getattr(run, f.name) for f in fields(run) if f.name not in ("results", "cut")}
    document = {**summary, "cut": run.cut.isoformat(), "results": rows}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    svg_path = directory / f"{stem}_ndcg.svg"
    svg_path.write_text(ndcg_chart_svg(run), encoding="utf-8")
    return [csv_path, json_path, svg_path]
