"""Tests of the Online Retail import: title casing, category rules, the file's quirks, idempotent upserts."""

import gzip
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shop.catalog.importers import (
    FALLBACK_CATEGORY,
    background_for,
    category_for,
    colour_for,
    online_retail_default_path,
    online_retail_read,
    title_case,
)
from shop.catalog.models import Category, Product, ProductImage

DATASET = online_retail_default_path()
needs_dataset = pytest.mark.skipif(not DATASET.is_file(), reason=f"{DATASET} is absent")
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.mark.parametrize(
    ("description", "title"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "White Hanging Heart T-Light Holder"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "Set of 3 Cake Tins Pantry Design"),
        ("BAG 125g SWIRLY MARBLES", "Bag 125g Swirly Marbles"),
        ("POLYESTER FILLER PAD 40x40cm", "Polyester Filler Pad 40x40cm"),
        ("KEY FOB , GARAGE DESIGN", "Key Fob, Garage Design"),
        ("ELEPHANT, BIRTHDAY CARD, ", "Elephant, Birthday Card"),
        ("3 TRADITIONAl BISCUIT CUTTERS  SET", "3 Traditional Biscuit Cutters Set"),
        ("SUNJAR LED NIGHT NIGHT LIGHT", "Sunjar LED Night Night Light"),
        ("FLOWER FAIRY,5 SUMMER B'DRAW LINERS", "Flower Fairy, 5 Summer B'draw Liners"),
        ("DOLLY GIRL'S LUNCH BOX", "Dolly Girl's Lunch Box"),
        ("SET/5 RED RETROSPOT LID GLASS BOWLS", "Set/5 Red Retrospot Lid Glass Bowls"),
        ("*USB Office Mirror Ball", "USB Office Mirror Ball"),
        ("OF MICE AND MEN", "Of Mice and Men"),
    ],
)
def test_title_case(description, title):
    assert title_case(description) == title


@pytest.mark.parametrize(
    ("description", "department", "category"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "Home Decor", "Candles & Lighting"),
        ("JUMBO BAG RED RETROSPOT", "Bags & Accessories", "Bags"),
        ("JUMBO BAG 50'S CHRISTMAS ", "Bags & Accessories", "Bags"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS ", "Christmas", "Christmas Decorations"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "Kitchen & Dining", "Baking"),
        ("RED RETROSPOT CHARLOTTE BAG", "Bags & Accessories", "Bags"),
        ("PLAYING CARDS KEEP CALM", "Toys & Games", "Games & Puzzles"),
        ("BAG 125g SWIRLY MARBLES", "Toys & Games", "Games & Puzzles"),
        ("GLASS STAR FROSTED T-LIGHT HOLDER", "Home Decor", "Candles & Lighting"),
        ("BLACK/WHITE GLASS/SILVER BRACELET", "Bags & Accessories", "Jewellery"),
        ("ZINC SWEETHEART SOAP DISH", "Home Decor", "Bathroom"),
        ("ALARM CLOCK BAKELIKE RED ", "Home Decor", "Clocks"),
        ("VINTAGE RED KITCHEN CABINET", "Home Decor", "Storage & Furniture"),
        ("LUNCH BOX WITH CUTLERY RETROSPOT ", "Kitchen & Dining", "Lunch & Picnic"),
        ("HOME BUILDING BLOCK WORD", "Gifts", "Other Gifts"),
        ("TINY RETRO RADIO", "Gifts", "Other Gifts"),  # TIN must not match TINY
    ],
)
def test_category_rules(description, department, category):
    assert category_for(description) == (department, category)


def test_colour_words_map_to_a_hex_background():
    assert colour_for("LUNCH BAG RED RETROSPOT") == "Red"
    assert colour_for("IVORY KNITTED MUG COSY ") == "Ivory"
    assert colour_for("COLOURED PLATE") is None  # RED inside a word is not a colour
    assert background_for(colour="Red", sku="20725") == "#c0392b"
    neutral = background_for(colour=None, sku="20725")
    assert neutral == background_for(colour=None, sku="20725") and neutral.startswith("#")


def _write(path, rows: list[str]) -> None:
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join([HEADER, *rows]) + "\n")


QUIRKS = [
    # Three sales of one code in two wordings: the commoner one names it, the median prices it.
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-02 08:26:00,2.95,17850.0,United Kingdom",
    "536367,85123A,CREAM HANGING HEART T-LIGHT HOLDER,6,2010-12-03 08:26:00,3.25,,United Kingdom",
    # An exact duplicate row must not count twice (it would move the median from 2.75 to 2.95).
    "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-02 08:26:00,2.95,17850.0,United Kingdom",
    # The same code in lower case is the same product.
    "536368,85123a,WHITE HANGING HEART T-LIGHT HOLDER,1,2010-11-30 10:00:00,2.55,13047.0,United Kingdom",
    # A cancellation and an adjustment, a zero-price line and a note.
    "C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-6,2010-12-04 09:41:00,99.00,14527.0,United Kingdom",
    "A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom",
    "536400,22139,,56,2010-12-01 11:52:00,0.0,,United Kingdom",
    "536401,22139,damaged,-10,2010-12-01 11:53:00,0.0,,United Kingdom",
    # Postage, fees, vouchers and carriage are not goods.
    "536370,POST,POSTAGE,3,2010-12-01 08:45:00,18.0,12583.0,France",
    "536371,M,Manual,1,2010-12-01 08:45:00,0.85,12583.0,France",
    "536372,gift_0001_20,Dotcomgiftshop Gift Voucher £20.00,1,2010-12-01 08:45:00,17.02,,United Kingdom",
    "536373,23444,Next Day Carriage,1,2010-12-01 08:45:00,15.0,,United Kingdom",
    # A real product priced in pence.
    "536374,21212,PACK OF 72 RETROSPOT CAKE CASES,24,2010-12-01 09:00:00,0.55,14688.0,United Kingdom",
]


def test_reader_handles_the_quirks_of_the_file(tmp_path):
    path = tmp_path / "retail.csv.gz"
    _write(path, QUIRKS)

    catalog = online_retail_read(path=path)

    by_sku = {p.sku: p for p in catalog.products}
    assert set(by_sku) == {"85123A", "21212"}
    heart = by_sku["85123A"]
    assert heart.title == "White Hanging Heart T-Light Holder"
    assert heart.price == Decimal("2.75")  # median of 2.55, 2.55, 2.95, 3.25
    assert (heart.department, heart.category) == ("Home Decor", "Candles & Lighting")
    assert heart.colour == "White"
    assert heart.first_sold.isoformat() == "2010-11-30T10:00:00+00:00"
    assert by_sku["21212"].price == Decimal("0.55")
    assert catalog.rows_read == len(QUIRKS)


def test_a_file_of_a_header_alone_reads_as_no_products_and_no_events(tmp_path):
    from tracking.importers import online_retail

    path = tmp_path / "empty.csv.gz"
    _write(path, [])
    assert online_retail_read(path=path).products == []
    chunks = list(online_retail.read(path=path, limit=None, chunk_rows=1000))
    assert sum(len(chunk.events) for chunk in chunks) == 0


def test_reader_refuses_a_file_without_the_columns(tmp_path):
    from shop.catalog.importers import CatalogImportError

    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CatalogImportError, match="missing columns"):
        online_retail_read(path=path)


@pytest.mark.django_db
def test_import_upserts_by_sku_and_keeps_the_shops_stock(tmp_path):
    path = tmp_path / "retail.csv.gz"
    _write(path, QUIRKS)
    call_command("import_catalog", path=path, stdout=io.StringIO(), stderr=io.StringIO())
    Product.objects.filter(sku="85123A").update(stock=3)
    _write(path, [*QUIRKS, "536999,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-09 08:26:00,3.10,,UK"])

    out = io.StringIO()
    call_command("import_catalog", path=path, stdout=out, stderr=io.StringIO())

    heart = Product.objects.get(sku="85123A")
    assert (heart.price, heart.stock) == (Decimal("2.95"), 3)  # the new sale moved the median
    assert Product.objects.count() == 2 and ProductImage.objects.count() == 2
    assert "2 products (0 new)" in out.getvalue()


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="No catalog file"):
        call_command("import_catalog", path=tmp_path / "nope.csv.gz", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.dataset
@needs_dataset
@pytest.mark.django_db
def test_import_of_the_real_file_makes_a_sane_catalog_and_reruns_cleanly():
    out = io.StringIO()
    call_command("import_catalog", limit=20_000, stdout=out, stderr=io.StringIO())

    products = list(Product.objects.select_related("category__department").prefetch_related("images"))
    assert len(products) > 1000
    assert not Product.objects.filter(sku__in=["POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE"]).exists()
    for product in products:
        assert product.title == product.title.strip() and product.title != product.title.upper(), product.title
        assert Decimal("0.01") <= product.price < Decimal("1000"), (product.sku, product.price)
        assert product.sku == product.sku.upper()
        assert len(product.images.all()) == 1
    heart = Product.objects.get(sku="85123A")
    assert heart.title == "White Hanging Heart T-Light Holder"
    assert heart.category.name == "Candles & Lighting"
    assert heart.images.get().background == "#f2f1ed"
    fallback = sum(p.category.name == FALLBACK_CATEGORY[1] for p in products)
    assert fallback < len(products) * 0.2, f"{fallback} of {len(products)} products fell through the rules"
    assert Category.objects.count() >= 20
    counts = (Product.objects.count(), ProductImage.objects.count(), Category.objects.count())

    out = io.StringIO()
    call_command("import_catalog", limit=20_000, stdout=out, stderr=io.StringIO())

    assert (Product.objects.count(), ProductImage.objects.count(), Category.objects.count()) == counts
    assert "(0 new)" in out.getvalue()
