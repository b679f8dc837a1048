"""import_events: the real datasets and the generic CSV land in the event store once, in their month partitions."""

import io
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from personalization.profiles import profile_read
from tests.factories.catalog import ProductFactory
from tracking.importers import default_path, events_import
from tracking.importers.base import NAMESPACE, datasets_dir
from tracking.models import Event
from tracking.partitions import partition_name

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
DATASETS = datasets_dir()


def needs(relative: str):
    return pytest.mark.skipif(not (DATASETS / relative).is_file(), reason=f"{DATASETS / relative} is absent")


def run(**options) -> str:
    out = io.StringIO()
    call_command("import_events", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def reported(output: str) -> dict[str, int]:
    """The figures of the command's summary line, by name."""
    figures = {}
    for label in ("rows read", "new events", "duplicates", "rows skipped"):
        match = re.search(rf"([\d,]+) {label}", output)
        figures[label] = int(match.group(1).replace(",", ""))
    reasons = re.search(r"rows skipped \((.*?)\)", output)
    for reason, count in re.findall(r"([a-z_]+) (\d[\d,]*)", reasons.group(1) if reasons else ""):
        figures[reason] = int(count.replace(",", ""))
    return figures


def in_partition(month: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{partition_name(month)}" WHERE source = %s', ["import"])  # noqa: S608
        return cursor.fetchone()[0]


def in_default_partition() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tracking_event_default")
        return cursor.fetchone()[0]


def visitor(dataset: str, user: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{dataset}:visitor:{user}")


@pytest.mark.dataset
@needs("online_retail/online_retail.csv.gz")
def test_online_retail_slice_stores_one_purchase_per_invoice_line_in_its_month_once():
    mug = ProductFactory(sku="85123A")

    first = reported(run(format_name="online_retail", limit=3000))

    # Counted independently with pandas over the same 3,000 rows of the file.
    assert first == {
        "rows read": 3000,
        "new events": 1800,
        "duplicates": 0,
        "rows skipped": 1200,
        # Each line counts under the first rule that leaves it out: the file's own checks
        # (shared with the catalogue import) come before the need for a customer.
        "no_customer": 1080,
        "non_positive_quantity": 1,
        "duplicate_row": 44,
        "same_line": 49,
        "cancelled": 26,
    }
    events = Event.objects.filter(source="import")
    assert events.count() == 1800
    assert set(events.values_list("name", flat=True)) == {"purchase"}
    assert not events.filter(user_id__isnull=False).exists()
    assert events.values("visitor_id").distinct().count() == 91
    assert in_partition(datetime(2010, 12, 1, tzinfo=UTC)) == 1800
    assert in_default_partition() == 0

    first_line = events.get(properties__transaction_id="536365", properties__item_id="85123A")
    assert first_line.visitor_id == visitor("online_retail", "17850")
    assert first_line.occurred_at == first_line.client_ts == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    assert timezone.now() - first_line.received_at < timedelta(minutes=5)
    assert (first_line.product_id, first_line.category_id) == (mug.pk, mug.category_id)
    assert first_line.properties == {
        "transaction_id": "536365",
        "value": 15.3,
        "currency": "GBP",
        "item_id": "85123A",
        "quantity": 6,
        "items": [{"item_id": "85123A", "quantity": 6, "price": 2.55}],
    }
    # No product has this code: the raw code is still there for evaluation.
    lantern = events.get(properties__transaction_id="536365", properties__item_id="71053")
    assert lantern.product_id is None
    # Invoice 536381 lists PHOTO CLIP LINE twice (1 and 3): one purchase of 4.
    clips = events.get(properties__transaction_id="536381", properties__item_id="71270")
    assert (clips.properties["quantity"], clips.properties["value"]) == (4, 5.0)
    assert not events.filter(properties__transaction_id__startswith="C").exists()
    assert not events.filter(properties__has_any_keys=["Country", "Description", "country", "description"]).exists()

    again = reported(run(format_name="online_retail", limit=3000))

    assert (again["new events"], again["duplicates"]) == (0, 1800)
    assert Event.objects.count() == 1800


@pytest.mark.dataset
@needs("taobao_user_behavior/users_full_history.csv")
def test_taobao_slice_maps_behaviours_to_event_names_in_their_months_once():
    first = reported(run(format_name="taobao", limit=3000))

    assert (first["rows read"], first["new events"], first["rows skipped"]) == (3000, 3000, 0)
    events = Event.objects.filter(source="import")
    counts = dict(events.values_list("name").annotate(n=Count("id")))
    assert counts == {"view_item": 2738, "add_to_cart": 144, "add_to_wishlist": 61, "purchase": 57}
    assert events.values("visitor_id").distinct().count() == 29
    assert in_partition(datetime(2017, 11, 1, tzinfo=UTC)) == 1935
    assert in_partition(datetime(2017, 12, 1, tzinfo=UTC)) == 1065
    assert in_default_partition() == 0

    # The file's first row: 1,2268318,2520377,pv,1511544070
    first_row = events.get(visitor_id=visitor("taobao", "1"), properties__item_id="2268318")
    assert first_row.name == "view_item"
    assert first_row.client_ts == datetime.fromtimestamp(1511544070, tz=UTC)
    assert first_row.properties == {"item_id": "2268318", "item_category": "2520377"}
    assert first_row.product_id is None and first_row.session_id is None
    buy = events.filter(name="purchase").first()
    assert re.fullmatch(r"\d+-\d+", buy.properties["transaction_id"])
    assert "value" not in buy.properties

    again = reported(run(format_name="taobao", limit=3000))

    assert (again["new events"], again["duplicates"]) == (0, 3000)


@pytest.mark.dataset
@needs("rees46_events/2019-Oct_head.csv")
def test_rees46_slice_keeps_prices_brands_and_sessions_and_leaves_missing_values_out():
    first = reported(run(format_name="rees46", limit=3000))

    assert (first["rows read"], first["new events"], first["rows skipped"]) == (3000, 3000, 0)
    events = Event.objects.filter(source="import")
    counts = dict(events.values_list("name").annotate(n=Count("id")))
    assert counts == {"view_item": 2941, "purchase": 36, "add_to_cart": 23}
    assert events.values("session_id").distinct().count() == 1281
    assert in_partition(datetime(2019, 10, 1, tzinfo=UTC)) == 3000
    # Brand is missing in 393 of these rows and category_code in 976: absent, never "" or NaN.
    assert events.exclude(properties__has_key="item_brand").count() == 393
    assert events.exclude(properties__has_key="item_category").count() == 976
    assert not events.filter(properties__item_brand="").exists()

    # The file's first row.
    view = events.get(
        properties__item_id="44600062",
        visitor_id=visitor("rees46", "541312140"),
        client_ts=datetime(2019, 10, 1, tzinfo=UTC),
    )
    assert view.name == "view_item"
    assert view.session_id == uuid.uuid5(NAMESPACE, "rees46:session:72d76fde-8bb3-4e00-8c23-a032dfed738c")
    assert view.properties == {
        "item_id": "44600062",
        "item_category_id": "2103807459595387724",
        "item_brand": "shiseido",
        "price": 35.79,
    }
    purchase = events.get(name="purchase", properties__item_id="1004856", visitor_id=visitor("rees46", "543272936"))
    assert purchase.properties["value"] == purchase.properties["price"] == 130.76
    assert purchase.properties["item_category"] == "electronics.smartphone"
    assert (
        purchase.properties["transaction_id"]
        == f"543272936-{int(datetime(2019, 10, 1, 0, 2, 14, tzinfo=UTC).timestamp())}"
    )

    again = reported(run(format_name="rees46", limit=3000))

    assert (again["new events"], again["duplicates"]) == (0, 3000)


CSV_HEADER = "visitor,item,event,timestamp,category,brand,price,title,session,quantity,email\n"
SHOPPER = "0b5d2a52-8a7e-4a37-9c1e-5f3f1f6f4a11"
CSV_ROWS = [
    f"{SHOPPER},sku-00042,view,2024-03-01T10:00:00Z,Mugs,Acme,9.99,Blue mug call +44 20 7946 0958,s-1,,a@b.example",
    "alice,SKU-00042,cart,1709287260,Mugs,Acme,9.99,Blue mug,s-1,2,",
    "alice,SKU-00042,purchase,2024-03-01 11:05:00+01:00,Mugs,Acme,9.99,Blue mug,s-1,2,",
    "alice,SKU-00042,purchase,2024-03-01 11:05:00+01:00,Mugs,Acme,9.99,Blue mug,s-1,2,",
    "bob,,page_view,2024-03-01T11:00:00,,,,,,,",
    "bob,SKU-00007,add_to_wishlist,2024-04-02T08:30:00Z,Lamps,,24.50,,,,",
    "bob,SKU-00007,teleport,2024-03-01T11:00:00,,,,,,,",
    "bob,,search,2024-03-01T11:00:00,,,,,,,",
    ",SKU-00007,view,2024-03-01T11:00:00,,,,,,,",
    "carol,SKU-00007,view,yesterday,,,,,,,",
    "carol,SKU-00007,view,0,,,,,,,",
    "carol,,view,2024-03-01T11:00:00,,,,,,,",
    "carol,SKU-00007,view,2024-03-01T11:00:00,,,cheap,,,,",
    "carol,SKU-00007,cart,2024-03-01T11:00:00,,,1.00,,,1.5,",
]


def write_csv(tmp_path: Path, rows: list[str], header: str = CSV_HEADER) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_generic_csv_stores_good_rows_and_counts_bad_ones_without_failing(tmp_path):
    path = write_csv(tmp_path, CSV_ROWS)
    mug = ProductFactory(sku="SKU-00042")

    first = reported(run(format_name="csv", path=path, dataset="test-shop"))

    assert first == {
        "rows read": 14,
        "new events": 5,
        "duplicates": 0,
        "rows skipped": 9,
        "unknown_event": 2,
        "missing_visitor": 1,
        "missing_item": 1,
        "bad_timestamp": 2,
        "bad_price": 1,
        "bad_quantity": 1,
        "duplicate_row": 1,
    }
    events = {event.name: event for event in Event.objects.filter(source="import")}
    assert set(events) == {"view_item", "add_to_cart", "purchase", "page_view", "add_to_wishlist"}

    view = events["view_item"]
    assert view.visitor_id == uuid.UUID(SHOPPER)  # a UUID visitor is the shop's own visitor id
    assert view.client_ts == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert (view.product_id, view.category_id) == (mug.pk, mug.category_id)  # SKU matched whatever its case
    assert view.properties == {
        "item_id": "sku-00042",
        "item_name": "Blue mug call [redacted]",
        "item_category": "Mugs",
        "item_brand": "Acme",
        "price": 9.99,
        "value": 9.99,
    }
    assert "a@b.example" not in str(Event.objects.values_list("properties", flat=True))

    cart, purchase = events["add_to_cart"], events["purchase"]
    assert cart.visitor_id == purchase.visitor_id == uuid.uuid5(NAMESPACE, "test-shop:visitor:alice")
    assert cart.session_id == purchase.session_id == uuid.uuid5(NAMESPACE, "test-shop:session:s-1")
    assert cart.client_ts == datetime.fromtimestamp(1709287260, tz=UTC)
    assert purchase.client_ts == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert (purchase.properties["quantity"], purchase.properties["value"]) == (2, 19.98)
    assert re.fullmatch(r"[0-9a-f]{16}", purchase.properties["transaction_id"])
    assert events["page_view"].properties == {}
    assert in_partition(datetime(2024, 3, 1, tzinfo=UTC)) == 4
    assert in_partition(datetime(2024, 4, 1, tzinfo=UTC)) == 1

    again = reported(run(format_name="csv", path=path, dataset="test-shop"))

    assert (again["new events"], again["duplicates"]) == (0, 5)
    assert Event.objects.count() == 5


def test_generic_csv_under_another_dataset_name_is_other_people(tmp_path):
    path = write_csv(tmp_path, CSV_ROWS[1:3])

    run(format_name="csv", path=path, dataset="shop-a")
    other = reported(run(format_name="csv", path=path, dataset="shop-b"))

    assert other["new events"] == 2
    assert Event.objects.values("visitor_id").distinct().count() == 2


def test_documented_example_imports_as_the_docs_say(tmp_path):
    text = (ROOT / "docs" / "import_events.md").read_text()
    example = re.search(r"```csv\n(.*?)```", text, re.DOTALL).group(1)
    path = tmp_path / "events.csv"
    path.write_text(example)

    result = reported(run(format_name="csv", path=path, dataset="demo-2024"))

    assert (result["new events"], result["rows skipped"]) == (5, 0)
    purchase = Event.objects.get(name="purchase")
    assert purchase.properties["value"] == 19.98
    assert purchase.client_ts == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)


def test_imported_shoppers_get_no_live_profile(tmp_path):
    ProductFactory(sku="SKU-00042")
    an_hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    run(format_name="csv", path=write_csv(tmp_path, [f"{SHOPPER},SKU-00042,view,{an_hour_ago},,,,,,,"]))

    call_command("rebuild_profiles", stdout=io.StringIO(), stderr=io.StringIO())

    assert Event.objects.filter(source="import").count() == 1
    assert profile_read(owner=f"v:{uuid.UUID(SHOPPER)}").is_empty


def test_generic_csv_without_the_required_columns_is_refused(tmp_path):
    path = write_csv(tmp_path, ["alice,view,2024-03-01T10:00:00Z"], header="visitor,event,timestamp\n")

    with pytest.raises(CommandError, match="lacks item"):
        run(format_name="csv", path=path)
    with pytest.raises(CommandError, match="needs --path"):
        run(format_name="csv")
    assert not Event.objects.exists()


RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
RETAIL_ROWS = [
    "500001,AAA,THING A,1,2011-01-05 10:00:00,2.00,12345.0,United Kingdom",
    "500001,BBB,THING B,2,2011-01-05 10:00:00,1.00,12345.0,United Kingdom",
    "500001,AAA,THING A,3,2011-01-05 10:01:00,2.00,12345.0,United Kingdom",
    "500001,BBB,THING B,2,2011-01-05 10:00:00,1.00,12345.0,United Kingdom",
    "C500002,AAA,THING A,-1,2011-01-06 10:00:00,2.00,12345.0,United Kingdom",
    "500003,AAA,THING A,5,2011-02-06 10:00:00,2.00,,United Kingdom",
    "500004,CCC,THING C,0,2011-02-07 10:00:00,2.00,777.0,France",
    "500004,CCC,THING C,1,2011-02-07 10:00:00,2.00,777.0,France",
]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_online_retail_lines_merge_whole_however_the_file_is_cut(tmp_path, chunk_rows):
    path = tmp_path / "retail.csv"
    path.write_text(RETAIL_HEADER + "\n".join(RETAIL_ROWS) + "\n")

    result = events_import(format_name="online_retail", path=path, chunk_rows=chunk_rows)

    assert (result.rows_read, result.written, result.duplicates) == (8, 3, 0)
    assert result.skipped == {
        "same_line": 1,
        "duplicate_row": 1,
        "cancelled": 1,
        "no_customer": 1,
        "non_positive_quantity": 1,
    }
    lines = {
        (event.properties["transaction_id"], event.properties["item_id"]): event
        for event in Event.objects.filter(source="import")
    }
    assert set(lines) == {("500001", "AAA"), ("500001", "BBB"), ("500004", "CCC")}
    thing_a = lines[("500001", "AAA")]
    assert (thing_a.properties["quantity"], thing_a.properties["value"]) == (4, 8.0)
    assert thing_a.client_ts == datetime(2011, 1, 5, 10, 0, tzinfo=UTC)  # the line's first scan
    assert lines[("500001", "BBB")].properties["quantity"] == 2
    assert in_partition(datetime(2011, 1, 1, tzinfo=UTC)) == 2
    assert in_partition(datetime(2011, 2, 1, tzinfo=UTC)) == 1


def test_a_file_that_is_not_the_format_stops_the_import(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text("a,b,c\n1,2,3\n")

    with pytest.raises(CommandError, match="not a readable CSV"):
        run(format_name="online_retail", path=path)
    with pytest.raises(CommandError, match="No file"):
        run(format_name="taobao", path=tmp_path / "nope.csv")


def test_default_paths_are_the_shared_datasets():
    assert default_path("online_retail") == DATASETS / "online_retail" / "online_retail.csv.gz"
    assert default_path("csv") is None


# Port 1 refuses at once, so the settings fall back to SQLite without waiting for a timeout.
UNREACHABLE = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/1",
}


def test_embedded_sqlite_import_stores_each_event_once(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(UNREACHABLE, DJANGO_SETTINGS_MODULE="shop.settings.local", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    path = write_csv(tmp_path, CSV_ROWS)

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "--noinput")
    first = reported(manage("import_events", "--format", "csv", "--path", str(path), "--dataset", "test-shop"))
    again = reported(manage("import_events", "--format", "csv", "--path", str(path), "--dataset", "test-shop"))

    assert (first["new events"], first["rows skipped"]) == (5, 9)
    assert (again["new events"], again["duplicates"]) == (0, 5)
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT name, visitor_id, client_ts FROM tracking_event WHERE name = 'purchase'").fetchall()
    assert rows == [("purchase", uuid.uuid5(NAMESPACE, "test-shop:visitor:alice").hex, "2024-03-01 10:05:00")]


def test_generic_csv_keeps_a_datasets_own_split_and_stars_and_counts_bad_ones(tmp_path):
    rows = [
        "alice,SKU-1,purchase,2024-03-01T10:00:00Z,,,,,,,,4.5,train",
        "alice,SKU-2,purchase,2024-03-02T10:00:00Z,,,,,,,,,TEST",
        "bob,SKU-1,view,2024-03-01T10:00:00Z,,,,,,,,,",
        "bob,SKU-2,view,2024-03-01T11:00:00Z,,,,,,,,five,",
        "bob,SKU-3,view,2024-03-01T12:00:00Z,,,,,,,,,holdout",
    ]
    path = write_csv(tmp_path, rows, header=CSV_HEADER.replace("email\n", "email,rating,split\n"))
    result = reported(run(format_name="csv", path=path, dataset="split-shop"))
    assert result["new events"] == 3
    assert result["bad_rating"] == 1 and result["bad_split"] == 1
    stored = {event.name + event.properties["item_id"]: event.properties for event in Event.objects.all()}
    assert stored["purchaseSKU-1"]["rating"] == 4.5 and stored["purchaseSKU-1"]["split"] == "train"
    assert stored["purchaseSKU-2"]["split"] == "test"
    assert "rating" not in stored["view_itemSKU-1"] and "split" not in stored["view_itemSKU-1"]
    from personalization.evaluation.datasets import events_log

    log = events_log()
    assert log.loc[log["item"] == "SKU-2", "split"].tolist() == ["test"]
    assert log.loc[log["item"] == "SKU-1", "rating"].dropna().tolist() == [4.5]
