"""import_events speed on a throwaway Postgres database, beside the floor: the raw file COPY'd untransformed.

    .venv/bin/python bench/import_speed.py [--repeat 3] [--chunk-rows 50000,100000] [--formats online_retail,taobao]

Creates the database (default shop_import_bench), migrates it, imports each format's shared
dataset file (the event table emptied before each run), and drops the database at the end.
The floor is what any importer of the same file pays at least: pandas reading it and COPY
writing the raw columns into an UNLOGGED table, no mapping, no ids, no indexes.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _database(admin_url: str, name: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            admin.execute(f'CREATE DATABASE "{name}"')


def _floor(path: Path, *, header: bool) -> float:
    """Seconds to read the file with pandas and COPY its raw columns into an unlogged table."""
    import pandas as pd
    from django.db import connection

    started = time.monotonic()
    frame = pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=False)
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False)
    columns = ", ".join(f"c{i} text" for i in range(len(frame.columns)))
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_floor")
        cursor.execute(f"CREATE UNLOGGED TABLE import_floor ({columns})")
        with cursor.copy("COPY import_floor FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cursor.execute("DROP TABLE import_floor")
    connection.connection.commit()
    return time.monotonic() - started


def _empty_events() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tracking_event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="shop_import_bench", help="Throwaway database, dropped at the end.")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="A superuser connection to create and drop it.")
    parser.add_argument("--formats", default="online_retail", help="Comma-separated: online_retail,taobao,rees46.")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per figure; the median is printed.")
    parser.add_argument(
        "--chunk-rows", default="", help="Comma-separated chunk sizes to compare (default: CHUNK_ROWS)."
    )
    args = parser.parse_args()
    if not args.database.startswith("shop_import_bench"):
        parser.error("--database must start with shop_import_bench: it is dropped at the end.")

    _database(args.admin_url, args.database, create=True)
    try:
        os.environ["DATABASE_URL"] = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
        os.environ["DJANGO_SETTINGS_MODULE"] = "shop.settings.local"
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from tracking.importers import CHUNK_ROWS, FORMATS, default_path, events_import

        if connection.vendor != "postgresql":
            print(f"Postgres at {os.environ['DATABASE_URL']} is not reachable.", file=sys.stderr)
            return 1
        call_command("migrate", verbosity=0)
        chunk_sizes = [int(size) for size in args.chunk_rows.split(",") if size] or [CHUNK_ROWS]
        for format_name in args.formats.split(","):
            path = default_path(format_name)
            if path is None or not path.is_file():
                print(f"{format_name}: no dataset file at {path}, skipped.")
                continue
            floors = [_floor(path, header=FORMATS[format_name].HEADER) for _ in range(args.repeat)]
            floor = statistics.median(floors)
            for chunk_rows in chunk_sizes:
                runs = []
                for _ in range(args.repeat):
                    _empty_events()
                    runs.append(events_import(format_name=format_name, path=path, chunk_rows=chunk_rows))
                result = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
                again = events_import(format_name=format_name, path=path, chunk_rows=chunk_rows)
                print(
                    f"{format_name} ({path.name}, chunk {chunk_rows:,}): {result.rows_read:,} rows, "
                    f"{result.written:,} events written in {result.seconds:.1f} s = "
                    f"{result.rows_per_second:,.0f} rows/s; "
                    f"floor (pandas read + COPY raw into an unlogged table) {result.rows_read / floor:,.0f} rows/s "
                    f"({floor:.1f} s); import takes {result.seconds / floor:.1f}x the floor. "
                    f"Re-import: {again.written} new, {again.duplicates:,} duplicates in {again.seconds:.1f} s."
                )
        connection.close()
    finally:
        _drop_when_reachable(args.admin_url, args.database)
    return 0


def _drop_when_reachable(admin_url: str, name: str, *, attempts: int = 15) -> None:
    """Drop the throwaway database, waiting out a server restart rather than leaving it behind."""
    import psycopg

    for attempt in range(attempts):
        try:
            _database(admin_url, name, create=False)
            return
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                print(f"Could not drop {name}; drop it by hand (dropdb {name}).", file=sys.stderr)
                raise
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
