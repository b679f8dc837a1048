"""The charts: escaped labels, bars to scale, flagged points, something to read without the picture,
and the JSON the browser's charting library draws from."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from django.utils.safestring import SafeString

from shop.charts import bar_chart, heat_colour, heatmap_chart, interval_chart, nice_ceiling, time_series_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def parse(html: str) -> ET.Element:
    """The figure as XML: it only parses if every tag is closed and every label escaped."""
    return ET.fromstring(html)  # noqa: S314 - our own output, in a test


def spec(html: str) -> dict:
    """The data the browser draws from, read back from the figure's json_script element."""
    figure = parse(html)
    script = figure.find("script")
    assert figure.get("data-chart") == script.get("id")
    assert script.get("type") == "application/json"
    return json.loads(script.text)


def bar_widths(html: str) -> list[float]:
    return [float(rect.get("width")) for rect in parse(html).iter(f"{SVG}rect")]


def test_bar_chart_escapes_every_label():
    html = bar_chart([(HOSTILE, 3), ("plain", 5)], title=f"Title {HOSTILE}", description=HOSTILE)
    assert isinstance(html, SafeString)
    assert HOSTILE not in html
    # The only script element is inert data, with its angle brackets escaped for JSON.
    assert re.findall(r"<script[^>]*>", html) == [f'<script id="{parse(html).get("id")}-spec" type="application/json">']
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    figure = parse(html)
    assert figure.find("figcaption").text == f"Title {HOSTILE}"
    assert spec(html)["labels"][0] == HOSTILE


def test_bar_chart_hands_the_browser_its_labels_values_and_formatted_texts():
    data = spec(bar_chart([("view → cart", 0.5), ("cart → buy", 0.125)], title="Rates", value_format="{:.1%}"))
    assert data["kind"] == "bar"
    assert data["title"] == "Rates"
    assert (data["labels"], data["values"], data["texts"]) == (
        ["view → cart", "cart → buy"],
        [0.5, 0.125],
        ["50.0%", "12.5%"],
    )


def test_an_empty_chart_gives_the_browser_nothing_to_draw():
    assert parse(bar_chart([], title="Nothing")).get("data-chart") is None


def test_bars_are_drawn_to_scale():
    widths = bar_widths(bar_chart([("a", 100), ("b", 50), ("c", 0)], title="t"))
    assert widths[0] > 0
    assert abs(widths[1] - widths[0] / 2) < 0.2
    assert widths[2] == 0


def test_bar_chart_is_named_for_screen_readers_and_carries_its_numbers():
    html = bar_chart([("page_view", 1234), ("purchase", 7)], title="Events")
    figure = parse(html)
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.find(f"{SVG}title").get("id") == title_id
    assert "page_view: 1,234" in svg.find(f"{SVG}desc").text
    assert desc_id.endswith("-desc")
    cells = [[cell.text for cell in row] for row in figure.iter("tr")][1:]
    assert cells == [["page_view", "1,234"], ["purchase", "7"]]


def test_long_labels_are_cut_in_the_drawing_but_whole_in_the_table():
    label = "A very long category name that goes on and on past any sensible width"
    figure = parse(bar_chart([(label, 1)], title="t"))
    drawn = [text.text for text in figure.iter(f"{SVG}text") if text.get("class") == "chart-label"]
    assert drawn[0].endswith("…") and len(drawn[0]) < len(label)
    assert label in [cell.text for cell in figure.iter("td")]


def test_value_format_is_used_for_rates():
    html = bar_chart([("view → cart", 0.125)], title="t", value_format="{:.1%}")
    assert "12.5%" in html


def test_an_empty_chart_says_so():
    html = bar_chart([], title="Nothing")
    assert "No data for this period." in html
    parse(html)


def test_time_series_flags_the_points_it_is_told_about_and_escapes_their_notes():
    start = datetime(2026, 3, 1, tzinfo=UTC)
    points = [(start + timedelta(hours=hour), 100 + hour) for hour in range(48)]
    drop = start + timedelta(hours=30)
    points[30] = (drop, 4)
    html = time_series_chart(
        points,
        title="page_view per hour",
        flagged={drop: f"drop {HOSTILE}"},
        expected=[(moment, 110.0) for moment, _ in points],
    )
    assert HOSTILE not in html
    figure = parse(html)
    flags = [circle for circle in figure.iter(f"{SVG}circle") if circle.get("class") == "chart-flag"]
    assert len(flags) == 1
    assert flags[0].find(f"{SVG}title").text.endswith(f"drop {HOSTILE}")
    # The flagged dot sits lower than its neighbours: y grows downwards.
    line = next(path for path in figure.iter(f"{SVG}path") if path.get("class") == "chart-line")
    ys = [float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", line.get("d"))]
    assert float(flags[0].get("cy")) == max(ys)
    assert any(path.get("class") == "chart-expected" for path in figure.iter(f"{SVG}path"))
    rows = [[cell.text for cell in row] for row in figure.iter("tr")][1:]
    assert len(rows) == 48
    assert rows[30][1:] == ["4", "110", f"drop {HOSTILE}"]
    data = spec(html)
    assert data["kind"] == "series"
    assert len(data["times"]) == len(data["values"]) == len(data["expected"]) == 48
    assert data["values"][30] == 4 and data["texts"][30] == "4" and data["expectedTexts"][30] == "110"
    assert [index for index, note in enumerate(data["flags"]) if note] == [30]
    assert data["flags"][30] == f"drop {HOSTILE}"


def test_time_series_with_one_point_still_draws():
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    figure = parse(time_series_chart([(moment, 5)], title="one"))
    assert figure.find(f"{SVG}svg") is not None


def test_axis_tops_are_round_numbers():
    assert [nice_ceiling(value) for value in (0, 7, 10, 11, 180, 2400, 0.3)] == [1, 10, 10, 20, 200, 2500, 0.5]


def test_interval_chart_draws_a_negative_lift_in_its_band_above_and_below_zero():
    day = datetime(2025, 3, 1, tzinfo=UTC)
    points = [
        (day, 0.0, float("-inf"), float("inf")),  # no interval yet: left out
        (day + timedelta(days=1), -0.05, -0.30, 0.20),
        (day + timedelta(days=2), 0.04, -0.06, 0.14),
    ]
    html = interval_chart(points, title="Lift")
    figure = parse(html)
    assert figure.find(f".//{SVG}path[@class='chart-band']") is not None
    assert figure.find(f".//{SVG}line[@class='chart-zero']") is not None
    assert "-30.0%" in [cell.text for cell in figure.iter("td")]
    data = spec(html)
    assert data["kind"] == "interval" and data["percent"]
    assert (data["values"], data["lows"], data["highs"]) == ([-0.05, 0.04], [-0.30, -0.06], [0.20, 0.14])
    assert data["texts"][0] == ["-5.0%", "-30.0%", "+20.0%"]
    assert "last +4.0% (-6.0% to +14.0%)" in figure.find(f".//{SVG}desc").text
    assert parse(interval_chart(points[:1], title="Nothing yet")).get("data-chart") is None


def test_heatmap_shades_cells_by_value_leaves_unknown_cells_blank_and_escapes_labels():
    html = heatmap_chart(
        [HOSTILE, "2025-02"], ["0", "1"], [[1.0, 0.25], [0.5, float("nan")]], title="Retention", max_value=1.0
    )
    figure = parse(html)
    cells = {rect.get("fill") for rect in figure.iter(f"{SVG}rect")}
    assert len(list(figure.iter(f"{SVG}rect"))) == 3, "the cell not lived through yet is not drawn"
    assert heat_colour(1.0) == "#417690" and heat_colour(0.0) == "#ffffff"
    assert cells == {heat_colour(1.0), heat_colour(0.25), heat_colour(0.5)}
    assert HOSTILE not in html
    data = spec(html)
    assert data["kind"] == "heatmap"
    assert data["rows"] == [HOSTILE, "2025-02"]
    assert [cell[:4] for cell in data["cells"]] == [[0, 0, 1.0, "100%"], [1, 0, 0.25, "25%"], [0, 1, 0.5, "50%"]]
    table = [cell.text for cell in figure.iter("td")]
    assert table == [HOSTILE, "100%", "25%", "2025-02", "50%", "–"]
