"""Which vendored Tabler icon pictures a product's kind, and the icon's shapes read from its SVG file."""

from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

from django.conf import settings
from django.utils.text import slugify

ICON_DIR = Path(settings.BASE_DIR) / "static" / "vendor" / "tabler-icons" / "outline"
DEFAULT_ICON = "package"

# Category slug -> icon: the demo catalogue's categories (demo_data.py), then the Online Retail importer's.
CATEGORY_ICONS: dict[str, str] = {
    "headphones": "headphones",
    "speakers": "device-speaker",
    "chargers-cables": "plug",
    "smartwatches": "device-watch",
    "keyboards-mice": "keyboard",
    "phone-cases": "device-mobile",
    "mugs": "mug",
    "cookware": "soup",
    "kitchen-knives": "tools-kitchen-2",
    "kettles": "teapot",
    "toasters": "bread",
    "coffee-makers": "coffee",
    "bedding": "bed",
    "towels": "bath",
    "candles": "candle",
    "cushions": "pillow",
    "jeans": "hanger",
    "t-shirts": "shirt",
    "jumpers": "hanger-2",
    "jackets": "jacket",
    "dresses": "hanger-2",
    "trainers": "shoe",
    "boots": "shoe",
    "scarves": "hanger",
    "socks": "sock",
    "yoga-mats": "yoga",
    "water-bottles": "bottle",
    "backpacks": "backpack",
    "tents": "tent",
    "dumbbells": "barbell",
    "cycling-helmets": "helmet",
    "moisturisers": "hand-sanitizer",
    "shampoo": "hand-sanitizer",
    "fragrance": "perfume",
    "lipstick": "palette",
    "makeup-brushes": "brush",
    "board-games": "dice-5",
    "jigsaw-puzzles": "puzzle",
    "building-sets": "lego",
    "soft-toys": "horse-toy",
    # Online Retail (importers.py CATEGORY_RULES)
    "bags": "shopping-bag",
    "christmas-cards-wrap": "gift",
    "christmas-lights-candles": "candle",
    "christmas-decorations": "christmas-ball",
    "easter": "egg",
    "games-puzzles": "puzzle",
    "kids-crafts": "scissors",
    "toys": "horse-toy",
    "stickers": "sticker",
    "notebooks": "notebook",
    "desk-stationery": "pencil",
    "cards-wrap": "gift",
    "party-supplies": "confetti",
    "candles-lighting": "lamp",
    "clocks": "clock",
    "frames-signs": "frame",
    "tableware": "tools-kitchen-2",
    "storage-furniture": "armchair",
    "travel-keyrings": "luggage",
    "jewellery": "diamond",
    "purses-wallets": "wallet",
    "hair-accessories": "sparkles",
    "bathroom": "bath",
    "baking": "cake",
    "mugs-cups": "mug",
    "kitchen-textiles": "chef-hat",
    "lunch-picnic": "basket",
    "storage-tins-jars": "box",
    "umbrellas": "umbrella",
    "bird-care": "feather",
    "plant-pots-tools": "plant",
    "cushions-throws": "pillow",
    "doormats": "door",
    "decorations": "sparkles",
    "other-gifts": "gift",
}

# Department slug -> icon, for a category the table above does not know.
DEPARTMENT_ICONS: dict[str, str] = {
    "electronics": "devices",
    "home-kitchen": "home",
    "fashion": "hanger",
    "sports-outdoors": "mountain",
    "beauty": "sparkles",
    "toys-games": "puzzle",
    "christmas": "christmas-tree",
    "party-celebrations": "confetti",
    "stationery-gifts": "pencil",
    "home-decor": "home",
    "kitchen-dining": "tools-kitchen-2",
    "bags-accessories": "shopping-bag",
    "garden": "plant",
    "gifts": "gift",
}

# Only geometry is copied out of an icon file, so a tampered file cannot add script or links.
SHAPES = frozenset({"path", "circle", "ellipse", "line", "polyline", "polygon", "rect"})
GEOMETRY = frozenset({"d", "cx", "cy", "r", "rx", "ry", "x", "y", "x1", "y1", "x2", "y2", "width", "height", "points"})


def pictogram_for(*, category: str, department: str = "") -> str:
    """The icon for a product of this category (names as shown, matched by slug), its department's, or the default."""
    return CATEGORY_ICONS.get(slugify(category)) or DEPARTMENT_ICONS.get(slugify(department)) or DEFAULT_ICON


@lru_cache(maxsize=len(set(CATEGORY_ICONS.values()) | set(DEPARTMENT_ICONS.values())) + 1)
def pictogram_shapes(name: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(tag, ((attribute, value), ...)) for each drawn shape of the icon on its 24-unit grid."""
    root = ElementTree.parse(ICON_DIR / f"{name}.svg").getroot()  # noqa: S314 - vendored files in the repository
    shapes = []
    for element in root:
        tag = element.tag.rpartition("}")[2]
        # Tabler's first path is an invisible 24x24 frame (stroke="none") that only sizes the icon.
        if tag not in SHAPES or element.get("stroke") == "none":
            continue
        shapes.append((tag, tuple((key, value) for key, value in element.attrib.items() if key in GEOMETRY)))
    return tuple(shapes)
