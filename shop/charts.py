"""Charts for merchandisers: Apache ECharts in the browser, fed JSON by the server, over an SVG fallback.

Each function returns one <figure>: a visible caption, an SVG drawn here with role="img"
named by its <title> and <desc> (what shows without JavaScript, in the evaluation report's
file, and what the tests read), the same data as JSON in a json_script element that
static/js/charts.js hands to ECharts (hover values, legend, zoom on time series), and
(unless table=False) the numbers as a <table> in a <details> for screen readers, copy-paste
and anyone who prefers digits. A page that shows charts loads CHART_SCRIPTS.
"""

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from django.forms import Media
from django.utils import timezone
from django.utils.html import format_html, format_html_join, json_script
from django.utils.safestring import SafeString, mark_safe

ValueFormat = str | Callable[[float], str]

# What a page with charts loads, in order: the vendored library, then the glue. Admin pages
# render it as {{ media }}; a ModelAdmin showing a chart names it as its Media.
CHART_SCRIPTS = ("vendor/echarts/echarts.common.min.js", "js/charts.js")
CHART_MEDIA = Media(js=CHART_SCRIPTS)

# Width in pixels of one character of the 12px system sans-serif, measured on Chromium and
# rounded up, so a label column fits its labels without a font engine on the server.
CHAR_WIDTH = 7
# Longer labels are cut with an ellipsis in the drawing; the full text stays in <title> and the table.
MAX_LABEL_CHARS = 36
BAR_HEIGHT = 22
BAR_GAP = 8
# More x-axis labels than this overlap at 720 px with the default time format.
MAX_X_TICKS = 6

BAR_FILL = "#417690"
LINE_STROKE = "#417690"
AREA_FILL = "#79aec8"
EXPECTED_STROKE = "#888888"
FLAG_FILL = "#ba2121"
TEXT_FILL = "#333333"
GRID_STROKE = "#dddddd"
PALETTE = {"bar": BAR_FILL, "line": LINE_STROKE, "area": AREA_FILL, "expected": EXPECTED_STROKE, "flag": FLAG_FILL}


def _format(value: float | None, value_format: ValueFormat) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if callable(value_format):
        return value_format(value)
    return value_format.format(value)


def _n(value: float) -> str:
    """A coordinate with one decimal: enough for a crisp line, short enough for a small page."""
    return f"{value:.1f}"


def _chart_id(kind: str, title: str, data: object) -> str:
    """A stable id per chart, so aria-labelledby points at this chart's own title on a page of many."""
    digest = hashlib.sha1(repr((kind, title, data)).encode(), usedforsecurity=False).hexdigest()
    return f"chart-{digest[:10]}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value: a round top for an axis."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def _shorten(label: str, limit: int = MAX_LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _data_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((header,) for header in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html(
        '<details class="chart-data"><summary>Data table</summary>'
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table></details>",
        head,
        body,
    )


def _figure(
    chart_id: str,
    *,
    title: str,
    description: str,
    width: int,
    height: int,
    pieces: Sequence[str],
    data: str = "",
    table: bool = True,
    spec: dict | None = None,
) -> SafeString:
    """The figure of these SVG pieces (each from format_html), with the data table if table; with
    a spec, the browser draws it with ECharts and the SVG stays as the fallback."""
    body = mark_safe("".join(pieces))  # noqa: S308 - every piece came from format_html
    script = (
        json_script(
            {**spec, "title": title, "description": description, "width": width, "height": height, "palette": PALETTE},
            f"{chart_id}-spec",
        )
        if spec
        else ""
    )
    return format_html(
        '<figure class="chart" id="{id}"{data}>'
        '<figcaption class="chart-title">{title}</figcaption>'
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{id}-title {id}-desc" '
        'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'font-family="system-ui, sans-serif" font-size="12">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{description}</desc>{body}</svg>'
        "{script}{table}</figure>",
        id=chart_id,
        data=format_html(' data-chart="{}-spec"', chart_id) if spec else "",
        script=script,
        title=title,
        description=description,
        width=width,
        height=height,
        body=body,
        table=data if table else "",
    )


def _empty(chart_id: str, *, title: str, width: int) -> SafeString:
    body = format_html(
        '<text x="{}" y="30" text-anchor="middle" fill="{}" class="chart-empty">No data for this period.</text>',
        width // 2,
        TEXT_FILL,
    )
    return _figure(chart_id, title=title, description="No data.", width=width, height=50, pieces=[body])


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: ValueFormat = "{:,.0f}",
    description: str = "",
    width: int = 640,
    max_value: float | None = None,
    table: bool = True,
) -> SafeString:
    """Horizontal bars, one per (label, value), longest bar for the largest value (or max_value).

    Values below zero draw as empty bars; this chart is for counts and rates.
    """
    rows = [(str(label), float(value)) for label, value in rows]
    chart_id = _chart_id("bar", title, rows)
    if not rows:
        return _empty(chart_id, title=title, width=width)
    limit = min(MAX_LABEL_CHARS, int((width * 0.4 - 12) / CHAR_WIDTH))
    shown = [(label, _shorten(label, limit), _format(value, value_format)) for label, value in rows]
    label_width = CHAR_WIDTH * max(len(short) for _, short, _ in shown) + 12
    value_width = CHAR_WIDTH * max(len(text) for _, _, text in shown) + 12
    bar_room = max(width - label_width - value_width, 10)
    top = max_value if max_value and max_value > 0 else max((value for _, value in rows), default=0) or 1.0
    height = len(rows) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    bars = []
    for index, ((label, value), (_, short, text)) in enumerate(zip(rows, shown, strict=True)):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        bar = max(0.0, min(value / top, 1.0)) * bar_room
        bars.append(
            format_html(
                '<g class="chart-row"><title>{label}: {text}</title>'
                '<text x="{lx}" y="{ty}" text-anchor="end" fill="{ink}" class="chart-label">{short}</text>'
                '<rect x="{bx}" y="{y}" width="{bw}" height="{bh}" fill="{fill}" class="chart-bar"/>'
                '<text x="{vx}" y="{ty}" fill="{ink}" class="chart-value">{text}</text></g>',
                label=label,
                text=text,
                short=short,
                lx=_n(label_width - 6),
                ty=_n(y + BAR_HEIGHT * 0.7),
                bx=_n(label_width),
                y=y,
                bw=_n(bar),
                bh=BAR_HEIGHT,
                vx=_n(label_width + bar + 4),
                ink=TEXT_FILL,
                fill=BAR_FILL,
            )
        )
    summary = description or "; ".join(f"{label}: {text}" for (label, _), (_, _, text) in zip(rows, shown, strict=True))
    data = _data_table(["", "Value"], ((label, text) for (label, _), (_, _, text) in zip(rows, shown, strict=True)))
    spec = {
        "kind": "bar",
        "labels": [label for label, _ in rows],
        "values": [value for _, value in rows],
        "texts": [text for _, _, text in shown],
        "max": max_value if max_value and max_value > 0 else None,
    }
    return _figure(
        chart_id, title=title, description=summary, width=width, height=height, pieces=bars, data=data, table=table,
        spec=spec,
    )  # fmt: skip


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def _path(coordinates: Iterable[tuple[float, float] | None]) -> str:
    """An SVG path through the points; None breaks the line (a gap in the baseline)."""
    parts, pen_down = [], False
    for point in coordinates:
        if point is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{point[0]:.1f},{point[1]:.1f}")
        pen_down = True
    return " ".join(parts)


def time_series_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    flagged: Mapping[datetime, str] | Iterable[datetime] = (),
    expected: Sequence[tuple[datetime, float | None]] = (),
    value_format: ValueFormat = "{:,.0f}",
    time_format: str = "%d %b %H:%M",
    description: str = "",
    width: int = 720,
    height: int = 240,
    table: bool = True,
) -> SafeString:
    """A line over a shaded area through (time, value) points, with flagged points drawn as red dots.

    flagged maps a point's time to a note (or lists times); expected is drawn as a dashed line,
    for the baseline an alert was measured against. The x axis is proportional to time.
    """
    points = sorted((moment, float(value)) for moment, value in points)
    notes = dict(flagged) if isinstance(flagged, Mapping) else dict.fromkeys(flagged, "flagged")
    expected = sorted(expected)
    chart_id = _chart_id("series", title, (points, sorted(notes.items()), expected))
    if not points:
        return _empty(chart_id, title=title, width=width)
    baseline = {moment: value for moment, value in expected}
    values = [value for _, value in points] + [value for value in baseline.values() if value is not None]
    top = nice_ceiling(max(values))
    # Fifths of 1, 2.5 and 5 and quarters of 2 are round numbers; quarters of 50 (12.5) are not.
    ticks = 4 if round(top / 10 ** math.floor(math.log10(top)), 6) == 2 else 5
    y_labels = [_format(top * step / ticks, value_format) for step in range(ticks + 1)]
    left = CHAR_WIDTH * max(len(label) for label in y_labels) + 10
    right, upper, lower = 12, 10, 28
    plot_w, plot_h = width - left - right, height - upper - lower
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        if span <= 0:
            return left + plot_w / 2
        return left + (moment - start).total_seconds() / span * plot_w

    def y_of(value: float) -> float:
        return upper + plot_h - max(0.0, value) / top * plot_h

    pieces = []
    for step, label in enumerate(y_labels):
        y = upper + plot_h - step / ticks * plot_h
        pieces.append(
            format_html(
                '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{grid}" class="chart-grid"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end" fill="{ink}" class="chart-axis">{label}</text>',
                x1=left,
                x2=left + plot_w,
                y=_n(y),
                ty=_n(y + 4),
                tx=left - 6,
                grid=GRID_STROKE,
                ink=TEXT_FILL,
                label=label,
            )
        )
    tick_count = min(MAX_X_TICKS, len(points))
    tick_indexes = sorted({round(i * (len(points) - 1) / max(tick_count - 1, 1)) for i in range(tick_count)})
    for index in tick_indexes:
        moment = points[index][0]
        # The end labels hang inwards so they are not cut at the edges of the drawing.
        anchor = "middle"
        if len(tick_indexes) > 1 and index == 0:
            anchor = "start"
        elif len(tick_indexes) > 1 and index == len(points) - 1:
            anchor = "end"
        pieces.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{ink}" class="chart-axis">{label}</text>',
                x=_n(x_of(moment)),
                anchor=anchor,
                y=height - 8,
                ink=TEXT_FILL,
                label=_local(moment).strftime(time_format),
            )
        )
    line = [(x_of(moment), y_of(value)) for moment, value in points]
    area = _path(line) + f" L{line[-1][0]:.1f},{upper + plot_h:.1f} L{line[0][0]:.1f},{upper + plot_h:.1f} Z"
    pieces.append(
        format_html('<path d="{}" fill="{}" fill-opacity="0.35" stroke="none" class="chart-area"/>', area, AREA_FILL)
    )
    if baseline:
        dashed = _path(None if value is None else (x_of(moment), y_of(value)) for moment, value in expected)
        pieces.append(
            format_html(
                '<path d="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="4 3" '
                'class="chart-expected"><title>Expected</title></path>',
                dashed,
                EXPECTED_STROKE,
            )
        )
    pieces.append(
        format_html(
            '<path d="{}" fill="none" stroke="{}" stroke-width="2" class="chart-line"/>', _path(line), LINE_STROKE
        )
    )
    for moment, value in points:
        if moment in notes:
            pieces.append(
                format_html(
                    '<circle cx="{x}" cy="{y}" r="5" fill="{fill}" class="chart-flag">'
                    "<title>{when}: {value} — {note}</title></circle>",
                    x=_n(x_of(moment)),
                    y=_n(y_of(value)),
                    fill=FLAG_FILL,
                    when=_local(moment).strftime(time_format),
                    value=_format(value, value_format),
                    note=notes[moment],
                )
            )
    flagged_count = sum(1 for moment, _ in points if moment in notes)
    summary = description or (
        f"{len(points)} points from {_local(start).strftime(time_format)} to {_local(end).strftime(time_format)}, "
        f"highest {_format(max(value for _, value in points), value_format)}"
        + (f"; {flagged_count} flagged" if flagged_count else "")
    )
    headers = ["Time", "Value", *(["Expected"] if baseline else []), "Flag"]
    data = _data_table(
        headers,
        (
            [
                _local(moment).strftime(time_format),
                _format(value, value_format),
                *([_format(baseline.get(moment), value_format)] if baseline else []),
                notes.get(moment, ""),
            ]
            for moment, value in points
        ),
    )
    spec = {
        "kind": "series",
        "times": [_local(moment).strftime(time_format) for moment, _ in points],
        "values": [value for _, value in points],
        "texts": [_format(value, value_format) for _, value in points],
        "expected": [baseline.get(moment) for moment, _ in points] if baseline else None,
        "expectedTexts": [_format(baseline.get(moment), value_format) for moment, _ in points] if baseline else None,
        "flags": [notes.get(moment) for moment, _ in points],
    }
    return _figure(
        chart_id, title=title, description=summary, width=width, height=height, pieces=pieces, data=data, table=table,
        spec=spec,
    )  # fmt: skip


def interval_chart(
    points: Sequence[tuple[datetime, float, float, float]],
    *,
    title: str,
    value_format: ValueFormat = "{:+.1%}",
    time_format: str = "%d %b",
    description: str = "",
    width: int = 720,
    height: int = 240,
    table: bool = True,
) -> SafeString:
    """An estimate over time inside its interval: (time, estimate, low, high) points drawn as a
    line in a shaded band, with a line at zero; values may be negative (a lift). Points whose
    interval is not finite yet (too few data) are left out."""
    points = sorted(
        (moment, float(value), float(low), float(high))
        for moment, value, low, high in points
        if all(math.isfinite(x) for x in (value, low, high))
    )
    chart_id = _chart_id("interval", title, points)
    if not points:
        return _empty(chart_id, title=title, width=width)
    bottom = min(0.0, *(low for _, _, low, _ in points))
    top = max(0.0, *(high for _, _, _, high in points))
    step = nice_ceiling((top - bottom) / 4 or 1.0)
    bottom, top = math.floor(bottom / step) * step, math.ceil(top / step) * step
    ticks = [bottom + i * step for i in range(round((top - bottom) / step) + 1)]
    y_labels = [_format(tick, value_format) for tick in ticks]
    left = CHAR_WIDTH * max(len(label) for label in y_labels) + 10
    right, upper, lower = 12, 10, 28
    plot_w, plot_h = width - left - right, height - upper - lower
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return left + ((moment - start).total_seconds() / span * plot_w if span > 0 else plot_w / 2)

    def y_of(value: float) -> float:
        return upper + plot_h - (value - bottom) / ((top - bottom) or 1.0) * plot_h

    pieces = [
        format_html(
            '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{stroke}" class="{cls}"/>'
            '<text x="{tx}" y="{ty}" text-anchor="end" fill="{ink}" class="chart-axis">{label}</text>',
            x1=left,
            x2=left + plot_w,
            y=_n(y_of(tick)),
            ty=_n(y_of(tick) + 4),
            tx=left - 6,
            stroke=TEXT_FILL if tick == 0 else GRID_STROKE,
            cls="chart-zero" if tick == 0 else "chart-grid",
            ink=TEXT_FILL,
            label=label,
        )
        for tick, label in zip(ticks, y_labels, strict=True)
    ]
    for index in sorted({round(i * (len(points) - 1) / max(min(MAX_X_TICKS, len(points)) - 1, 1))
                         for i in range(min(MAX_X_TICKS, len(points)))}):  # fmt: skip
        anchor = "start" if index == 0 and len(points) > 1 else "end" if index == len(points) - 1 > 0 else "middle"
        pieces.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{ink}" class="chart-axis">{label}</text>',
                x=_n(x_of(points[index][0])),
                y=height - 8,
                anchor=anchor,
                ink=TEXT_FILL,
                label=_local(points[index][0]).strftime(time_format),
            )
        )
    highs = [(x_of(moment), y_of(high)) for moment, _, _, high in points]
    lows = [(x_of(moment), y_of(low)) for moment, _, low, _ in points]
    band = _path(highs + lows[::-1]) + " Z"
    pieces.append(format_html('<path d="{}" fill="{}" fill-opacity="0.35" class="chart-band"/>', band, AREA_FILL))
    line = _path((x_of(moment), y_of(value)) for moment, value, _, _ in points)
    pieces.append(
        format_html('<path d="{}" fill="none" stroke="{}" stroke-width="2" class="chart-line"/>', line, LINE_STROKE)
    )
    last = points[-1]
    summary = description or (
        f"{len(points)} points from {_local(start).strftime(time_format)} to {_local(end).strftime(time_format)}; "
        f"last {_format(last[1], value_format)} ({_format(last[2], value_format)} to {_format(last[3], value_format)})"
    )
    texts = [[_format(v, value_format) for v in (value, low, high)] for _, value, low, high in points]
    data = _data_table(
        ["Time", "Estimate", "Low", "High"],
        ([_local(moment).strftime(time_format), *text] for (moment, *_), text in zip(points, texts, strict=True)),
    )
    spec = {
        "kind": "interval",
        "times": [_local(moment).strftime(time_format) for moment, *_ in points],
        "values": [value for _, value, _, _ in points],
        "lows": [low for _, _, low, _ in points],
        "highs": [high for _, _, _, high in points],
        "texts": texts,
        "percent": isinstance(value_format, str) and "%" in value_format,
    }
    return _figure(
        chart_id, title=title, description=summary, width=width, height=height, pieces=pieces, data=data, table=table,
        spec=spec,
    )  # fmt: skip


HEAT_LOW = (255, 255, 255)
HEAT_HIGH = (0x41, 0x76, 0x90)  # BAR_FILL
HEAT_CELL = 36  # pixels: room for "100%" in a cell
HEAT_ROW = 22
# Below this width a cell has no room for its number; hover (or the data table) gives it.
HEAT_TEXT_MIN = 30


def heat_colour(share: float) -> str:
    """White at 0 to the bar colour at 1, linearly in RGB."""
    share = min(max(share, 0.0), 1.0)
    red, green, blue = (round(low + (high - low) * share) for low, high in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _heat_ink(share: float) -> str:
    """The text colour that reads on a cell of this shade."""
    return "#ffffff" if share > 0.55 else TEXT_FILL


def heatmap_chart(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    value_format: ValueFormat = "{:.0%}",
    row_header: str = "",
    column_header: str = "",
    description: str = "",
    max_value: float | None = None,
    width: int = 720,
    table: bool = True,
) -> SafeString:
    """A grid of cells shaded by value (rows x columns), white for zero, the bar colour for the
    largest value (or max_value); a missing value (None or NaN) is a blank cell, not a zero."""
    grid = [
        [None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value) for value in row]
        for row in values
    ]
    rows, columns = [str(row) for row in rows], [str(column) for column in columns]
    chart_id = _chart_id("heatmap", title, (rows, columns, grid))
    if not rows or not columns:
        return _empty(chart_id, title=title, width=width)
    known = [value for row in grid for value in row if value is not None]
    top = max_value if max_value and max_value > 0 else max(known, default=0.0) or 1.0
    label_width = CHAR_WIDTH * min(MAX_LABEL_CHARS, max(len(row) for row in rows)) + 12
    cell = max(min(HEAT_CELL, (width - label_width) / len(columns)), 4)
    head = 20
    height = head + len(rows) * HEAT_ROW + 4
    pieces = [
        format_html(
            '<text x="{x}" y="14" text-anchor="middle" fill="{ink}" class="chart-axis">{label}</text>',
            x=_n(label_width + (index + 0.5) * cell),
            ink=TEXT_FILL,
            label=column,
        )
        for index, column in enumerate(columns)
        if cell >= HEAT_TEXT_MIN or index % max(1, round(HEAT_TEXT_MIN / cell)) == 0
    ]
    texts = [[_format(value, value_format) for value in row] for row in grid]
    for r, (row, cells) in enumerate(zip(rows, grid, strict=True)):
        y = head + r * HEAT_ROW
        pieces.append(
            format_html(
                '<text x="{x}" y="{y}" text-anchor="end" fill="{ink}" class="chart-label">{label}</text>',
                x=label_width - 6,
                y=_n(y + HEAT_ROW * 0.7),
                ink=TEXT_FILL,
                label=_shorten(row),
            )
        )
        for c, value in enumerate(cells):
            if value is None:
                continue
            share = value / top
            pieces.append(
                format_html(
                    '<g class="chart-cell"><title>{row}, {column}: {text}</title>'
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="#ffffff"/>{label}</g>',
                    row=row,
                    column=columns[c],
                    text=texts[r][c],
                    x=_n(label_width + c * cell),
                    y=y,
                    w=_n(cell),
                    h=HEAT_ROW,
                    fill=heat_colour(share),
                    label=format_html(
                        '<text x="{}" y="{}" text-anchor="middle" fill="{}" class="chart-value">{}</text>',
                        _n(label_width + (c + 0.5) * cell),
                        _n(y + HEAT_ROW * 0.7),
                        _heat_ink(share),
                        texts[r][c],
                    )
                    if cell >= HEAT_TEXT_MIN
                    else "",
                )
            )
    largest = _format(max(known, default=None), value_format)
    summary = description or f"{len(rows)} rows by {len(columns)} columns; the largest value {largest}"
    data = _data_table([row_header, *columns], ([row, *text] for row, text in zip(rows, texts, strict=True)))
    spec = {
        "kind": "heatmap",
        "rows": rows,
        "columns": columns,
        "rowHeader": row_header,
        "columnHeader": column_header,
        # [column, row, value, text, colour, ink] per known cell: the colours are the server's,
        # so the drawing needs no colour scale of its own.
        "cells": [
            [c, r, value, texts[r][c], heat_colour(value / top), _heat_ink(value / top)]
            for r, cells in enumerate(grid)
            for c, value in enumerate(cells)
            if value is not None
        ],
    }
    return _figure(
        chart_id, title=title, description=summary, width=width, height=height, pieces=pieces, data=data, table=table,
        spec=spec,
    )  # fmt: skip
