"""Product image placeholders drawn as SVG: a pictogram of the product's kind in the product's colour."""

import re
from html import escape

from .pictograms import pictogram_for, pictogram_shapes

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
FALLBACK = "#8a9bb0"
# The icon's 24-unit grid scaled 10x sits in the middle of the 400-unit tile; a 1.25-unit stroke
# draws 12.5 px lines, which read at card size (about 180 px) where Tabler's own 2 looked heavy.
ICON_SCALE = 10
ICON_OFFSET = (400 - 24 * ICON_SCALE) // 2
ICON_STROKE = 1.25


def _ink(background: str) -> str:
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    # Relative luminance decides dark or light lines so the pictogram stays visible on any colour.
    return "#1d232b" if (0.299 * red + 0.587 * green + 0.114 * blue) > 150 else "#ffffff"


def _shape(tag: str, attributes: tuple[tuple[str, str], ...]) -> str:
    return f"<{tag} " + " ".join(f'{key}="{escape(value)}"' for key, value in attributes) + "/>"


def placeholder_svg(*, title: str, background: str, category: str = "", department: str = "") -> str:
    colour = background if HEX_COLOUR.match(background or "") else FALLBACK
    ink = _ink(colour)
    icon = pictogram_for(category=category, department=department)
    shapes = "".join(_shape(tag, attributes) for tag, attributes in pictogram_shapes(icon))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" role="img" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="400" height="400" fill="{colour}"/>'
        f'<circle cx="200" cy="200" r="150" fill="{ink}" fill-opacity="0.08"/>'
        f'<g data-icon="{icon}" transform="translate({ICON_OFFSET} {ICON_OFFSET}) scale({ICON_SCALE})" fill="none" '
        f'stroke="{ink}" stroke-opacity="0.85" stroke-width="{ICON_STROKE}" stroke-linecap="round" '
        f'stroke-linejoin="round">{shapes}</g>'
        "</svg>"
    )
