"""Monthly partitions of the event table on Postgres: create ahead, drop past retention."""

from datetime import UTC, datetime

from django.db import connection, transaction

EVENT_TABLE = "tracking_event"


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(month_start: datetime) -> str:
    return f"{EVENT_TABLE}_y{month_start.year:04d}m{month_start.month:02d}"


def partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [EVENT_TABLE])
        return cursor.fetchone() is not None


def existing_partitions() -> dict[str, tuple[datetime, datetime]]:
    """Monthly partitions by name, with their bounds (the default partition is left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
            FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE pg_inherits.inhparent = %s::regclass
            """,
            [EVENT_TABLE],
        )
        rows = cursor.fetchall()
    found = {}
    for name, bound in rows:
        if bound == "DEFAULT" or not name.startswith(EVENT_TABLE + "_y"):
            continue
        year, month = int(name[-7:-3]), int(name[-2:])
        start = datetime(year, month, 1, tzinfo=UTC)
        found[name] = (start, _next_month(start))
    return found


def partitions_ensure(*, start: datetime, end: datetime) -> list[str]:
    """Create the monthly partitions covering [start, end]; returns the names created.

    Rows of those months already sitting in the default partition are moved in, since
    Postgres refuses a new partition whose range the default partition already holds.
    """
    if not partitioned():
        return []
    have = existing_partitions()
    created = []
    month = _month_start(start)
    while month <= end:
        name = partition_name(month)
        upper = _next_month(month)
        if name not in have:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {EVENT_TABLE}_default IN ACCESS EXCLUSIVE MODE")
                cursor.execute(
                    f"CREATE TEMP TABLE event_moving AS SELECT * FROM {EVENT_TABLE}_default "  # noqa: S608
                    "WHERE client_ts >= %s AND client_ts < %s",
                    [month, upper],
                )
                cursor.execute(
                    f"DELETE FROM {EVENT_TABLE}_default WHERE client_ts >= %s AND client_ts < %s",  # noqa: S608
                    [month, upper],
                )
                cursor.execute(
                    f'CREATE TABLE "{name}" PARTITION OF {EVENT_TABLE} FOR VALUES FROM (%s) TO (%s)',
                    [month, upper],
                )
                cursor.execute(f"INSERT INTO {EVENT_TABLE} SELECT * FROM event_moving")  # noqa: S608
                cursor.execute("DROP TABLE event_moving")
            created.append(name)
        month = upper
    return created


def partitions_drop_before(*, cutoff: datetime, keep_source: str) -> list[str]:
    """Drop whole monthly partitions that end before the cutoff; returns their names.

    A partition holding rows of keep_source (imported datasets) stays; the caller deletes
    its other rows one by one.
    """
    if not partitioned():
        return []
    dropped = []
    for name, (_, upper) in sorted(existing_partitions().items()):
        if upper > cutoff:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{name}" WHERE source = %s)', [keep_source])  # noqa: S608
            if cursor.fetchone()[0]:
                continue
            cursor.execute(f'DROP TABLE "{name}"')
        dropped.append(name)
    return dropped


def partitions_ensure_ahead(*, months: int = 2) -> list[str]:
    """This month's partition and the next ones, so live traffic never lands in the default."""
    start = _month_start(datetime.now(UTC))
    end = start
    for _ in range(months):
        end = _next_month(end)
    return partitions_ensure(start=start, end=end)
