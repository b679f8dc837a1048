"""Readers of external catalogs: the UCI Online Retail file into products with categories, colours and prices."""

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
from django.conf import settings

from tracking.importers.base import ImportFailed
from tracking.importers.online_retail import rows_read as online_retail_rows

from .demo_data import COLOURS

ONLINE_RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
# Postage, fees, manual adjustments and vouchers: codes in the file that are not goods.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE", "C2", "D", "CRUK", "PADS", "S", "B"}
)  # fmt: skip
NON_PRODUCT_CODE_PREFIXES = ("GIFT_0001_",)
# A few numeric codes carry the same kind of non-goods line; their descriptions give them away.
NON_PRODUCT_DESCRIPTION = re.compile(
    r"\b(?:CARRIAGE|POSTAGE|GIFT VOUCHER|HIGH RESOLUTION IMAGE|BANK CHARGES|AMAZON FEE|ADJUST BAD DEBT|MANUAL)\b",
    re.IGNORECASE,
)
# The shop's own fallback when a description names no colour; muted so the grid stays calm.
NEUTRAL_BACKGROUNDS = ("#8a9bb0", "#a7b3a1", "#b9a99a", "#9c9fb5", "#b3a7b8", "#a3b5b8")

SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}
)  # fmt: skip
ACRONYMS = frozenset({"LED", "USB", "DIY", "UK", "USA", "NY", "XL", "XS", "CD", "DVD", "PVC", "3D", "ABC", "RSPB"})
_LETTER_RUN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


# Rows per chunk of the shared reader (its measured default for the event import).
READ_CHUNK_ROWS = 100_000


class CatalogImportError(ValueError):
    """A catalog file that cannot be read as the format it claims to be."""


def _case_word(word: str, *, first: bool) -> str:
    if word.upper() in ACRONYMS:
        return word.upper()
    if not first and word.lower() in SMALL_WORDS:
        return word.lower()

    def case_run(match: re.Match) -> str:
        run = match.group()
        # Letters straight after a digit are units or ordinals: 125g, 40x40cm, 1st.
        if match.start() > 0 and word[match.start() - 1].isdigit():
            return run.lower()
        if run.upper() in ACRONYMS:
            return run.upper()
        return run[0].upper() + run[1:].lower()

    return _LETTER_RUN.sub(case_run, word)


def title_case(description: str) -> str:
    """'WHITE HANGING HEART T-LIGHT HOLDER' -> 'White Hanging Heart T-Light Holder'."""
    text = re.sub(r"\s+", " ", description).strip()
    text = re.sub(r"\s*,\s*", ", ", text).strip(" ,*")
    return " ".join(_case_word(word, first=i == 0) for i, word in enumerate(text.split(" ") if text else []))


@dataclass(frozen=True)
class CategoryRule:
    """A description belongs to the category when it names any keyword (and any context word, if given).

    Keywords are written "CANDLE|T-LIGHT|TEA LIGHT": whole words, upper case, plurals implied.
    """

    department: str
    category: str
    keywords: str
    context: str = ""
    _keyword_pattern: re.Pattern = field(init=False, repr=False, compare=False)
    _context_pattern: re.Pattern | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyword_pattern", _words_pattern(self.keywords))
        object.__setattr__(self, "_context_pattern", _words_pattern(self.context) if self.context else None)

    def matches(self, description: str) -> bool:
        text = description.upper()
        if self._context_pattern is not None and not self._context_pattern.search(text):
            return False
        return bool(self._keyword_pattern.search(text))


def _words_pattern(words: str) -> re.Pattern:
    # Whole words, with an optional plural: TIN matches TINS, not TINY.
    alternatives = "|".join(re.escape(word) for word in sorted(words.split("|"), key=len, reverse=True))
    return re.compile(rf"(?<![A-Z0-9])(?:{alternatives})(?:S|ES)?(?![A-Z0-9])")


CHRISTMAS = "CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|SNOWFLAKE|NATIVITY|SNOWMAN|BAUBLE"

# First match wins, so narrow rules come before the broad ones they would otherwise lose to
# (JUMBO BAG before CHRISTMAS, PLAYING CARDS before CARD, GIFT BAG before BAG, T-LIGHT before JAR).
CATEGORY_RULES: tuple[CategoryRule, ...] = (
    CategoryRule(
        "Bags & Accessories",
        "Bags",
        "JUMBO BAG|JUMBO SHOPPER|JUMBO STORAGE BAG|HANDBAG|LUNCH BAG|SHOULDER BAG|CHARLOTTE BAG",
    ),
    CategoryRule("Christmas", "Christmas Cards & Wrap", "CARD|WRAP|GIFT TAG|GIFT BAG|RIBBON|TISSUE", CHRISTMAS),
    CategoryRule("Christmas", "Christmas Lights & Candles", "LIGHT|T-LIGHT|CANDLE|LANTERN", CHRISTMAS),
    CategoryRule("Christmas", "Christmas Decorations", CHRISTMAS),
    CategoryRule("Party & Celebrations", "Easter", "EASTER"),
    CategoryRule(
        "Toys & Games",
        "Games & Puzzles",
        "PLAYING CARDS|JIGSAW|PUZZLE|GAME|DOMINOES|MARBLES|SKITTLES|BINGO|SNAKES",
    ),
    CategoryRule(
        "Toys & Games",
        "Kids' Crafts",
        "CRAFT|FELTCRAFT|COLOURING|CRAYONS|STENCIL|PAINT SET|SEWING KIT|KNITTING",
    ),
    CategoryRule(
        "Toys & Games",
        "Toys",
        "TOY|TEDDY|DOLL|SPINNING TOP|KALEIDOSCOPE|SKIPPING ROPE|BUBBLES|PUPPET|INFLATABLE|HELICOPTER|GLIDER|KITE|"
        "WINDMILL",
    ),
    CategoryRule("Stationery & Gifts", "Stickers", "STICKER"),
    CategoryRule(
        "Stationery & Gifts",
        "Notebooks",
        "NOTEBOOK|NOTEPAD|SKETCHBOOK|JOURNAL|DIARY|MEMO BOARD|ADDRESS BOOK|POCKET BOOK",
    ),
    CategoryRule(
        "Stationery & Gifts",
        "Desk & Stationery",
        "PEN|PENCIL|ERASER|RULER|SHARPENER|RUBBER|TAPE|SCISSOR|HOLE PUNCH|CALCULATOR|WRITING SET|STATIONERY|"
        "PAPERWEIGHT|P'WEIGHT|BOOKCOVER|CLIPBOARD",
    ),
    CategoryRule(
        "Stationery & Gifts",
        "Cards & Wrap",
        "CARD|WRAP|GIFT TAG|GIFT BAG|GIFT BOX|ENVELOPE|RIBBON|TISSUE|WRAPPING",
    ),
    CategoryRule(
        "Party & Celebrations",
        "Party Supplies",
        "PARTY|BUNTING|BALLOON|PAPER CHAIN|CONFETTI|FAIRY CAKE FLAG|PARTY BAG",
    ),
    CategoryRule(
        "Home Decor",
        "Candles & Lighting",
        "CANDLE|T-LIGHT|TEA LIGHT|TEALIGHT|LANTERN|LIGHT|LAMP|SHADE|LAMPSHADE|INCENSE|CANDLEHOLDER|CANDLESTICK|VOTIVE|"
        "OIL BURNER|FRAGRANCE OIL",
    ),
    CategoryRule("Home Decor", "Clocks", "CLOCK"),
    CategoryRule("Home Decor", "Frames & Signs", "FRAME|SIGN|PLAQUE|PICTURE|MIRROR|PHOTO"),
    # Before the kitchen rules: a NAPKIN RING is no jewellery, a KITCHEN CABINET is furniture,
    # a GLASS bracelet is jewellery, a SOAP DISH belongs in the bathroom.
    CategoryRule("Kitchen & Dining", "Tableware", "NAPKIN"),
    CategoryRule("Home Decor", "Storage & Furniture", "CABINET|SIDEBOARD|CHEST OF DRAWERS|LOVE SEAT|CHAIR|STOOL|DESK"),
    CategoryRule(
        "Bags & Accessories",
        "Travel & Keyrings",
        "KEY RING|KEYRING|KEY FOB|KEY-CHAIN|KEYCHAIN|PASSPORT COVER|VIPPASSPORT|LUGGAGE TAG",
    ),
    CategoryRule(
        "Bags & Accessories",
        "Jewellery",
        "NECKLACE|NECKL|BRACELET|EARRINGS|RING|CHARM|PENDANT|BEAD|BROOCH|BANGLE",
    ),
    CategoryRule("Bags & Accessories", "Purses & Wallets", "PURSE|WALLET|CARD HOLDER"),
    CategoryRule("Bags & Accessories", "Hair Accessories", "HAIR|HAIRCLIP|HAIRSLIDE|ALICE BAND|SLIDE|BOBBLE|CLIP"),
    CategoryRule(
        "Home Decor",
        "Bathroom",
        "BATHROOM|SOAP|HAND TOWEL|BATH TOWEL|FLANNEL|TOOTHBRUSH|BATH|WASHBAG|SPONGE",
    ),
    CategoryRule(
        "Kitchen & Dining",
        "Baking",
        "CAKE|BAKING|CUPCAKE|CAKE CASES|CUTTER|BAKE|CAKESTAND|JELLY MOULD|RECIPE",
    ),
    CategoryRule("Kitchen & Dining", "Mugs & Cups", "MUG|CUP|BEAKER|TEACUP|SAUCER"),
    CategoryRule(
        "Kitchen & Dining",
        "Kitchen Textiles",
        "APRON|TEA TOWEL|OVEN GLOVE|TABLECLOTH|TABLE CLOTH|PLACEMAT|PLACE MAT|TEA COSY|EGG WARMER|FOOD COVER|"
        "WASHING UP GLOVES",
    ),
    CategoryRule("Kitchen & Dining", "Lunch & Picnic", "LUNCH BOX|SNACK BOX|PICNIC|FOOD CONTAINER"),
    CategoryRule(
        "Kitchen & Dining",
        "Tableware",
        "PLATE|BOWL|DISH|CUTLERY|TRAY|COASTER|JUG|TEAPOT|SPOON|DOILY|DOILIES|FRUITBOWL|GOBLET|WINE GLASS|TUMBLER|"
        "STRAWS|PLACE SETTINGS|COFFEE SET|CHOPSTICKS",
    ),
    CategoryRule("Kitchen & Dining", "Storage Tins & Jars", "TIN|JAR|CONTAINER|BREAD BIN|CANISTER|PANTRY|KITCHEN"),
    CategoryRule("Bags & Accessories", "Umbrellas", "UMBRELLA|PARASOL"),
    CategoryRule("Bags & Accessories", "Bags", "BAG|HANDBAG|SHOPPER|TOTE|BACKPACK"),
    CategoryRule("Garden", "Bird Care", "BIRD FEEDER|BIRD HOUSE|BIRDHOUSE|BIRD TABLE|NESTING BOX|BIRD BATH"),
    CategoryRule(
        "Garden",
        "Plant Pots & Tools",
        "GARDEN|PLANT|PLANTER|FLOWER POT|WATERING|TROWEL|PEGS|HERB|SEED|GNOME|SHED",
    ),
    CategoryRule("Home Decor", "Cushions & Throws", "CUSHION|THROW|BLANKET|HOT WATER BOTTLE|FILLER PAD|QUILT|DOORSTOP"),
    CategoryRule("Home Decor", "Doormats", "DOORMAT|DOOR MAT"),
    CategoryRule(
        "Home Decor",
        "Storage & Furniture",
        "DRAWER|CABINET|HOOK|KNOB|HANGER|SHELF|BASKET|BOX|RACK|CRATE|STORAGE|ORGANISER|TIDY|BIN|BUCKET|STOOL|CHAIR|"
        "TABLE",
    ),
    CategoryRule(
        "Home Decor",
        "Decorations",
        "HANGING|DECORATION|GARLAND|WREATH|ORNAMENT|MOBILE|CHIME|WALL ART|VASE|FLOWER|HONEYCOMB|PAPER BALL|PAPER FAN|"
        "FEATHER TREE|TINSEL|CHANDELIER|DISCO BALL|LETTERS|TOADSTOOL|MUSHROOM|MAGNET|CURTAIN|HEART",
    ),
)
FALLBACK_CATEGORY = ("Gifts", "Other Gifts")
DEPARTMENT_DESCRIPTIONS = {
    "Bags & Accessories": "Bags, purses, jewellery and the small things that go everywhere with you.",
    "Christmas": "Decorations, lights, cards and wrap for the festive season.",
    "Party & Celebrations": "Bunting, party bags and Easter treats.",
    "Toys & Games": "Games for the table and toys for little ones.",
    "Stationery & Gifts": "Cards, wrap, notebooks and desk things.",
    "Home Decor": "Candles, frames, clocks, cushions and decorations.",
    "Kitchen & Dining": "Mugs, baking, tableware and storage tins.",
    "Garden": "Pots, tools and treats for the birds.",
    "Gifts": "Little gifts that fit no other shelf.",
}

# Colour words of the file's descriptions, to the colour name shown on the product.
COLOUR_WORDS: dict[str, str] = {
    "RED": "Red",
    "PINK": "Pink",
    "BLUE": "Blue",
    "IVORY": "Ivory",
    "WHITE": "White",
    "BLACK": "Black",
    "GREEN": "Forest Green",
    "CREAM": "Cream",
    "GOLD": "Gold",
    "SILVER": "Silver",
    "PURPLE": "Purple",
    "ORANGE": "Orange",
    "YELLOW": "Yellow",
    "BROWN": "Brown",
    "GREY": "Grey",
    "GRAY": "Grey",
    "NAVY": "Navy",
    "TEAL": "Teal",
    "COPPER": "Copper",
    "NATURAL": "Natural",
    "BEIGE": "Beige",
    "LILAC": "Lilac",
    "TURQUOISE": "Turquoise",
    "AQUA": "Turquoise",
    "FUCHSIA": "Fuchsia",
    "FUSCHIA": "Fuchsia",
    "AMBER": "Amber",
    "AMETHYST": "Amethyst",
    "CHOCOLATE": "Chocolate",
    "ZINC": "Zinc",
    "MINT": "Mint",
    "KHAKI": "Khaki",
}
RETAIL_COLOURS: dict[str, str] = {
    **COLOURS,
    "Turquoise": "#3fb6b0",
    "Fuchsia": "#c2388a",
    "Amber": "#d98e1f",
    "Amethyst": "#8d6bb3",
    "Chocolate": "#5a3825",
    "Zinc": "#9aa1a6",
    "Mint": "#a8dcc4",
    "Khaki": "#a39a6a",
}
_COLOUR_PATTERN = re.compile(r"(?<![A-Z])(" + "|".join(COLOUR_WORDS) + r")(?![A-Z])")


def category_for(description: str) -> tuple[str, str]:
    """(department, category) of a product from its description, by the first rule that matches."""
    for rule in CATEGORY_RULES:
        if rule.matches(description):
            return rule.department, rule.category
    return FALLBACK_CATEGORY


def colour_for(description: str) -> str | None:
    """The first colour the description names, if any."""
    match = _COLOUR_PATTERN.search(description.upper())
    return COLOUR_WORDS[match.group(1)] if match else None


def background_for(*, colour: str | None, sku: str) -> str:
    if colour is not None:
        return RETAIL_COLOURS[colour]
    # crc32, not hash(): the same SKU must get the same tile in every process.
    return NEUTRAL_BACKGROUNDS[zlib.crc32(sku.encode()) % len(NEUTRAL_BACKGROUNDS)]


@dataclass(frozen=True)
class RetailProduct:
    sku: str
    title: str
    price: Decimal
    department: str
    category: str
    colour: str | None
    background: str
    first_sold: datetime | None


@dataclass(frozen=True)
class RetailCatalog:
    products: list[RetailProduct]
    rows_read: int
    rows_used: int
    codes_skipped: int


def online_retail_default_path() -> Path:
    """Where the shared datasets live: beside the project, never inside it."""
    return Path(settings.BASE_DIR).parent / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"


def _is_product_code(code: str) -> bool:
    return code not in NON_PRODUCT_CODES and not code.startswith(NON_PRODUCT_CODE_PREFIXES)


def _to_price(value: float) -> Decimal:
    return max(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), Decimal("0.01"))


def online_retail_read(*, path: Path, limit: int | None = None) -> RetailCatalog:
    """One product per stock code from the UCI Online Retail transactions (CSV, optionally gzipped).

    The rows are the event importer's (tracking.importers.online_retail.rows_read: no
    cancellations, returns or exact duplicates); a product also needs a sale invoice (not an
    adjustment, A...), a positive price, a description, and a code that names goods. Stock
    codes are upper-cased because the file writes some in both cases (15056BL and 15056bl
    are one parasol).
    """
    try:
        header = pd.read_csv(path, nrows=0)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CatalogImportError(f"{path}: not a readable Online Retail CSV ({exc}).") from exc
    missing = set(ONLINE_RETAIL_COLUMNS) - set(header.columns)
    if missing:
        raise CatalogImportError(f"{path}: missing columns {', '.join(sorted(missing))}.")
    frames, rows_read = [], 0
    try:
        for frame, read_count, _ in online_retail_rows(
            path, limit=limit, chunk_rows=READ_CHUNK_ROWS, descriptions=True
        ):
            frames.append(frame)
            rows_read += read_count
    except ImportFailed as exc:
        raise CatalogImportError(str(exc)) from exc
    if not frames:
        return RetailCatalog(products=[], rows_read=0, rows_used=0, codes_skipped=0)
    frame = pd.concat(frames, ignore_index=True)
    frame["code"] = frame["code"].str.upper()
    frame["description"] = frame["Description"].fillna("").str.replace(r"\s+", " ", regex=True).str.strip()
    all_codes = frame["code"].nunique()
    sales = frame[
        frame["InvoiceNo"].str.fullmatch(r"\d+", na=False)
        & (frame["price"] > 0)
        & (frame["description"] != "")
        & frame["code"].map(_is_product_code)
        & ~frame["description"].str.contains(NON_PRODUCT_DESCRIPTION, na=False)
    ]

    # The most frequent wording of each code; ties go to the alphabetically first, so reruns agree.
    wordings = sales.groupby(["code", "description"]).size().reset_index(name="rows")
    wordings = wordings.sort_values(["code", "rows", "description"], ascending=[True, False, True])
    titles = wordings.drop_duplicates("code").set_index("code")["description"]
    prices = sales.groupby("code")["price"].median()
    first_sold = sales.groupby("code")["client_ts"].min()

    products = []
    for code, description in titles.items():
        title = title_case(description)
        if not title:
            continue
        department, category = category_for(description)
        colour = colour_for(description)
        sold = first_sold.get(code)
        products.append(
            RetailProduct(
                sku=code,
                title=title[:200],
                price=_to_price(float(prices[code])),
                department=department,
                category=category,
                colour=colour,
                background=background_for(colour=colour, sku=code),
                first_sold=sold.to_pydatetime() if sold is not None and not pd.isna(sold) else None,
            )
        )
    return RetailCatalog(
        products=products,
        rows_read=rows_read,
        rows_used=len(sales),
        codes_skipped=all_codes - len(products),
    )
