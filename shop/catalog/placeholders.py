"""Product image placeholders drawn as SVG in the product's colour with its initials."""

import re
from html import escape

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
FALLBACK = "#8a9bb0"


def initials(title: str) -> str:
    words = [w for w in re.split(r"[^\w]+", title) if w and w[0].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def _text_colour(background: str) -> str:
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    # Relative luminance decides dark or light text so initials stay legible.
    return "#1d232b" if (0.299 * red + 0.587 * green + 0.114 * blue) > 150 else "#ffffff"


def placeholder_svg(*, title: str, background: str) -> str:
    colour = background if HEX_COLOUR.match(background or "") else FALLBACK
    ink = _text_colour(colour)
    label = escape(initials(title))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" role="img" '
        f'aria-label="{escape(title)}">'
        f'<rect width="400" height="400" fill="{colour}"/>'
        f'<circle cx="320" cy="80" r="140" fill="{ink}" fill-opacity="0.08"/>'
        f'<text x="200" y="200" dy="0.35em" text-anchor="middle" font-family="Georgia, serif" '
        f'font-size="132" fill="{ink}" fill-opacity="0.85">{label}</text>'
        "</svg>"
    )
