"""Product placeholders: a pictogram of the product's kind from the vendored icons, in its colour, safe to serve."""

from xml.etree import ElementTree

import pytest

from shop.catalog.demo_data import DEPARTMENTS
from shop.catalog.importers import CATEGORY_RULES, FALLBACK_CATEGORY
from shop.catalog.pictograms import (
    CATEGORY_ICONS,
    DEFAULT_ICON,
    DEPARTMENT_ICONS,
    ICON_DIR,
    pictogram_for,
    pictogram_shapes,
)
from shop.catalog.placeholders import placeholder_svg

SVG = "{http://www.w3.org/2000/svg}"
# Tabler's shirt and package outlines, as drawn in their files under static/vendor/tabler-icons.
SHIRT = "M15 4l6 2v5h-3v8a1 1 0 0 1 -1 1h-10a1 1 0 0 1 -1 -1v-8h-3v-5l6 -2a3 3 0 0 0 6 0"
PACKAGE = "M12 3l8 4.5l0 9l-8 4.5l-8 -4.5l0 -9l8 -4.5"


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output, in a test; raises on invalid XML


def _paths(svg: str) -> list[str]:
    return [element.get("d") for element in _parse(svg).iter(f"{SVG}path")]


def test_a_shirt_is_drawn_as_the_shirt_icon_in_its_colour_with_no_initials():
    svg = placeholder_svg(title="Thread & Co Crew T-Shirt, Navy", background="#1f2d4a", category="T-Shirts")
    assert SHIRT in _paths(svg)
    root = _parse(svg)
    assert root.find(f"{SVG}rect").get("fill") == "#1f2d4a"
    # Light lines on a dark colour, dark on a light one.
    assert root.find(f"{SVG}g").get("stroke") == "#ffffff"
    light = _parse(placeholder_svg(title="Tee", background="#f2f1ed", category="T-Shirts"))
    assert light.find(f"{SVG}g").get("stroke") == "#1d232b"
    assert root.find(f"{SVG}text") is None


def test_an_unknown_kind_falls_back_to_its_department_then_the_default_box():
    assert pictogram_for(category="Bonsai Trees", department="Fashion") == DEPARTMENT_ICONS["fashion"]
    svg = placeholder_svg(title="Mystery", background="#1f7a7a", category="Bonsai Trees", department="Nowhere")
    assert PACKAGE in _paths(svg)
    assert SHIRT not in _paths(svg)
    assert PACKAGE in _paths(placeholder_svg(title="Mystery", background="#1f7a7a"))


def test_kinds_match_whatever_their_case_and_punctuation():
    assert pictogram_for(category="t-shirts") == pictogram_for(category="T-Shirts") == "shirt"
    assert pictogram_for(category="Chargers and Cables") != pictogram_for(category="Chargers & Cables")
    assert pictogram_for(category="CHARGERS & CABLES") == "plug"


@pytest.mark.parametrize(
    "title", ['"><script>alert(1)</script>', "Tom & Jerry's <Mug>", "]]></svg><svg onload=alert(1)>"]
)
def test_the_svg_stays_valid_and_the_title_is_text_not_markup(title):
    svg = placeholder_svg(title=title, background="javascript:alert(1)", category="Mugs")
    root = _parse(svg)
    assert root.get("aria-label") == title
    assert root.find(f"{SVG}title").text == title
    assert not any(element.tag.endswith("script") for element in root.iter())
    assert not any(name.startswith("on") for element in root.iter() for name in element.attrib)
    # A colour that is not #rrggbb never reaches the markup.
    assert root.find(f"{SVG}rect").get("fill") == "#8a9bb0"


def test_every_icon_named_in_the_mapping_is_vendored_and_draws_something():
    for icon in {*CATEGORY_ICONS.values(), *DEPARTMENT_ICONS.values(), DEFAULT_ICON}:
        assert (ICON_DIR / f"{icon}.svg").is_file(), icon
        assert pictogram_shapes(icon), icon
    assert (ICON_DIR.parent / "LICENSE").read_text().startswith("MIT License")


def test_every_demo_and_imported_category_has_its_own_pictogram():
    names = [c.name for d in DEPARTMENTS for c in d.categories] + [r.category for r in CATEGORY_RULES]
    assert [name for name in [*names, FALLBACK_CATEGORY[1]] if pictogram_for(category=name) == DEFAULT_ICON] == []
