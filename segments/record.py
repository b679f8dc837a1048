"""The Postgres record of entries and exits: live transitions journaled in Redis, applied in bulk.

A live batch's transitions go into a Redis list in the script that publishes them to the page's
sets (shop/lua/segment_count.lua), so Redis never shows a change the journal lacks; whoever drains
the journal writes hundreds of them in one statement, a fraction of a statement and a commit a batch.
Draining is at least once and applying is idempotent: a drainer takes rows to a list of its own
(shop/lua/segment_journal_take.lua) and empties it only after its commit, so one dying between
the two leaves them for the next, and applying them twice records nothing twice. One drainer runs
at a time (a Redis lock), so transitions are applied in the order they were published. The other
writers of rule segments (the due-times, the backfill, a login's merge) drain first and then write,
under the same lock; the re-cluster writes cluster segments, which are never journaled.

An owner's first entries (judged with nothing stored for them) are journaled as such: no stay can
be recorded for them yet, so they are inserted without the look-up of a held stay, the ranking
and the conflict check that any other row needs. The record keeps no foreign key to the segments
either: its check, at each commit, cost a quarter of each row's insert. A drain that was writing
while a segment was deleted leaves its rows of that segment behind, and the delete's aftermath
(memberships_orphans_delete) removes them.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from redis.exceptions import LockError

from shop.database import server_cursor
from shop.keyspace import (
    RedisBatch,
    redis_client,
    segment_journal_key,
    segment_journal_lock_key,
    segment_journal_taken_key,
)

from .evaluator import epoch_ms
from .models import Membership, Segment

logger = logging.getLogger(__name__)

# Rows per INSERT or UPDATE of memberships (SQLite takes at most 32,766 parameters a statement).
ROWS_PER_STATEMENT = 1000
# The drain lock outlives any one drain of ROWS_PER_STATEMENT rows many times over; a drainer that
# dies holding it delays the next drain by this much, and loses nothing.
LOCK_SECONDS = 30
# How long a writer that must drain first (the due-times, the backfill) waits for a running drain.
LOCK_WAIT_SECONDS = 60


class Row(NamedTuple):
    """One transition: an owner entering (else leaving) a segment at a moment."""

    segment: int
    owner: str
    entered: bool
    at: datetime


def rows_of(changes: Sequence[tuple[str, str, bool]], *, at: datetime, segments: Mapping[str, int]) -> list[Row]:
    """Transitions (owner, slug, entered) as rows, the slugs looked up in segments (slug -> id)."""
    return [Row(segments[slug], owner, entered, at) for owner, slug, entered in changes]


def row_encode(row: Row) -> str:
    return _line(row.segment, row.entered, epoch_ms(row.at), row.owner)


def lines_of(
    changes: Sequence[tuple[str, str, bool]], *, at: int, segments: Mapping[str, int], first: bool = False
) -> list[str]:
    """rows_of as the journal holds them (row_encode), at a moment in epoch ms; first: the owner's
    first transitions, judged with nothing stored for them."""
    return [_line(segments[slug], entered, at, owner, first=first) for owner, slug, entered in changes]


# A line's kind: 0 an exit, 1 an entry, 2 an entry of an owner with no stay recorded.
FIRST_ENTRY = "2"


def _line(segment: int, entered: bool, at_ms: int, owner: str, *, first: bool = False) -> str:
    kind = FIRST_ENTRY if first and entered else int(entered)
    return f"{segment}|{kind}|{at_ms}|{owner}"


def row_decode(raw: bytes | str) -> Row:
    text = raw.decode() if isinstance(raw, bytes) else raw
    segment, kind, at_ms, owner = text.split("|", 3)
    return Row(int(segment), owner, kind != "0", datetime.fromtimestamp(int(at_ms) / 1000, tz=UTC))


def journal_due(*, pending: int, oldest: bytes | None, adding: int, now_ms: int) -> bool:
    """Whether the batch that adds `adding` rows to a journal of `pending` (the oldest as stored)
    should drain it: once it holds SEGMENTS_JOURNAL_ROWS, or its oldest row has waited
    SEGMENTS_JOURNAL_SECONDS, so the record trails the live sets by about that much at most."""
    if pending + adding >= settings.SEGMENTS_JOURNAL_ROWS:
        return True
    if not pending or oldest is None:
        return False
    return now_ms - epoch_ms(row_decode(oldest).at) >= settings.SEGMENTS_JOURNAL_SECONDS * 1000


@contextmanager
def _drain_lock(*, wait: bool) -> Iterator[bool]:
    lock = redis_client().lock(segment_journal_lock_key(), timeout=LOCK_SECONDS)
    held = lock.acquire(blocking=wait, blocking_timeout=LOCK_WAIT_SECONDS if wait else None)
    if wait and not held:
        raise TimeoutError(f"the membership journal stayed locked for {LOCK_WAIT_SECONDS} s")
    try:
        yield held
    finally:
        if held:
            try:
                lock.release()
            except LockError:
                # Held past LOCK_SECONDS: another drainer may have begun; its rows are its own.
                logger.warning("the membership journal's lock expired during a drain")


def journal_drain(*, wait: bool = True, rounds: int | None = None) -> int:
    """Apply the journal to the record: every row (or `rounds` chunks of ROWS_PER_STATEMENT).
    Without wait, returns 0 at once when another drain is running. Returns the rows applied."""
    with _drain_lock(wait=wait) as held:
        return _drain_held(rounds=rounds) if held else 0


def _drain_held(*, rounds: int | None = None) -> int:
    client, applied, done = redis_client(), 0, 0
    while rounds is None or done < rounds:
        take = RedisBatch(client)
        take.script(
            "segment_journal_take", keys=[segment_journal_key(), segment_journal_taken_key()], args=[ROWS_PER_STATEMENT]
        )
        raw = take.execute()[0]
        if not raw:
            break
        # As journaled: the Postgres statement parses the lines itself.
        lines = [item.decode() for item in raw]
        memberships_write(lines)
        client.delete(segment_journal_taken_key())
        applied, done = applied + len(lines), done + 1
    return applied


def record_with(write: Callable[[], None]) -> None:
    """Run a writer of memberships after the journal is applied, holding the drain lock, so its
    rows land after every transition published before it. Not inside a transaction: a drain's
    rows must be committed before the journal lets go of them."""
    with _drain_lock(wait=True):
        _drain_held()
        write()


def memberships_write(rows: Sequence[Row] | Sequence[str]) -> None:
    """Apply transitions (Rows, or the journal's lines of them) in their order, in one transaction.
    An entry is ignored when a recorded stay already holds its moment (the owner is in, or was
    then); an exit closes the open stay that began at or before it, and nothing else: so applying
    rows a second time changes nothing. Rows of a segment deleted meanwhile are dropped."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _write_postgres([row if isinstance(row, str) else row_encode(row) for row in rows])
    else:
        _write_portable([row_decode(row) if isinstance(row, str) else row for row in rows])


def memberships_orphans_delete(*, segment_id: int) -> None:
    """After a segment's delete has committed: remove the stays of it that a drain running meanwhile
    recorded after the delete's cascade. That drain held the lock until its commit, so once the
    lock is had its rows are in; the journal's rows of the segment are dropped as it drains."""
    record_with(lambda: Membership.objects.filter(segment_id=segment_id).delete())


# The Postgres form of memberships_write: the rows go as one text in the journal's own encoding
# and are parsed by the statement, a few microseconds of Python a row where binding three values
# a row took twenty. Rows are applied by their rank among the rows of the same (segment, owner),
# one statement a rank (nearly always one), so an entry and the exit after it land in order.
# The held-stay probe is a LATERAL with LIMIT 1 so that it is always an index look-up by
# (owner, segment): as an anti-join, the planner hashed the whole table once it held a few
# thousand rows, and the drain's cost grew with the record.
# An owner key (tracking/owners.py) holds no "|", so it is the fourth field whole.
_MEMBERSHIPS, _SEGMENTS = Membership._meta.db_table, Segment._meta.db_table
# A journal line's segment, moment and owner, as both statements parse them.
_LINE_PARSED = (
    "split_part(line, '|', 1)::bigint AS segment_id, "
    "timestamptz 'epoch' + split_part(line, '|', 3)::bigint * interval '1 millisecond' AS at, "
    "split_part(line, '|', 4) AS owner"
)
_WRITE_RANK = (
    f"WITH parsed AS (SELECT n, {_LINE_PARSED}, split_part(line, '|', 2) <> '0' AS entered "  # noqa: S608
    "FROM unnest(string_to_array(%s, E'\\n')) WITH ORDINALITY AS l(line, n)), "
    "ranked AS (SELECT *, row_number() OVER (PARTITION BY segment_id, owner ORDER BY n) AS rank FROM parsed "
    f"WHERE segment_id IN (SELECT id FROM {_SEGMENTS})), "
    "v AS (SELECT * FROM ranked WHERE rank = %s), "
    f"entries AS (INSERT INTO {_MEMBERSHIPS} (segment_id, owner, entered_at) SELECT v.segment_id, v.owner, v.at "
    f"FROM v LEFT JOIN LATERAL (SELECT 1 AS held FROM {_MEMBERSHIPS} h WHERE h.owner = v.owner "
    "AND h.segment_id = v.segment_id AND h.entered_at <= v.at AND (h.exited_at IS NULL OR h.exited_at > v.at) "
    "LIMIT 1) stay ON true WHERE v.entered AND stay.held IS NULL ON CONFLICT DO NOTHING), "
    f"exits AS (UPDATE {_MEMBERSHIPS} m SET exited_at = v.at FROM v WHERE NOT v.entered "
    "AND m.segment_id = v.segment_id AND m.owner = v.owner AND m.exited_at IS NULL AND m.entered_at <= v.at) "
    "SELECT max(rank) FROM ranked"
)


# First entries: inserted where the owner has no stay of the segment at all (looked up as in
# _WRITE_RANK, for the same reason). Any other stay (a replayed drain's own row, or the record of
# an owner whose live state was flushed) sends the whole run through _WRITE_RANK, which applies
# it again with nothing recorded twice.
_WRITE_FIRST = (
    f"INSERT INTO {_MEMBERSHIPS} (segment_id, owner, entered_at) SELECT p.segment_id, p.owner, p.at FROM "  # noqa: S608
    f"(SELECT {_LINE_PARSED} FROM unnest(string_to_array(%s, E'\\n')) AS l(line)) p "
    f"LEFT JOIN LATERAL (SELECT 1 AS held FROM {_MEMBERSHIPS} h WHERE h.owner = p.owner "
    "AND h.segment_id = p.segment_id LIMIT 1) stay ON true "
    f"WHERE p.segment_id IN (SELECT id FROM {_SEGMENTS}) AND stay.held IS NULL"
)


def _write_postgres(lines: Sequence[str]) -> None:
    # An owner's first entries come before any other line of theirs, so inserting them first
    # keeps each (segment, owner) in order. Both statements are prepared once per connection
    # (shop/database.py): Postgres planned the ranked statement (0.6 ms) on every drain.
    first, others = [], []
    for line in lines:
        (first if line.split("|", 2)[1] == FIRST_ENTRY else others).append(line)
    if first:
        # No savepoint: a run that falls back (seldom) rolls back and goes again whole, where a
        # savepoint cost two round trips on every drain.
        try:
            with transaction.atomic(), server_cursor() as cursor:
                cursor.execute(_WRITE_FIRST, ["\n".join(first)], prepare=True)
                if cursor.rowcount == len(first):
                    _write_ranked(cursor, others)
                    return
                transaction.set_rollback(True)  # a first entry met a stay of its owner
        except IntegrityError:
            pass  # one line came twice in the run
    with transaction.atomic(), server_cursor() as cursor:
        _write_ranked(cursor, lines)


def _write_ranked(cursor, lines: Sequence[str]) -> None:
    """Apply lines through _WRITE_RANK, one statement a rank, which records nothing twice."""
    if not lines:
        return
    text = "\n".join(lines)
    rank, ranks = 1, 1
    while rank <= ranks:
        cursor.execute(_WRITE_RANK, [text, rank], prepare=True)
        ranks = cursor.fetchone()[0] or 0
        rank += 1


def _write_portable(rows: Sequence[Row]) -> None:
    """For SQLite (the embedded default), which has no LATERAL nor writes inside WITH: runs of rows
    as multi-row statements."""
    alive = set(Segment.objects.filter(pk__in={row.segment for row in rows}).values_list("pk", flat=True))
    statements = [
        statement for run in _runs([row for row in rows if row.segment in alive]) for statement in _statements(run)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, values in statements:
            cursor.execute(sql, values)


def _runs(rows: Sequence[Row]) -> Iterator[list[Row]]:
    """The rows cut into runs in which each (segment, owner) appears once, in order: a statement
    applies a run as a set, so an entry and the exit after it must go in different ones."""
    run: list[Row] = []
    seen: set[tuple[int, str]] = set()
    for row in rows:
        pair = (row.segment, row.owner)
        if pair in seen:
            yield run
            run, seen = [], set()
        run.append(row)
        seen.add(pair)
    if run:
        yield run


def _statements(run: list[Row]) -> Iterator[tuple[str, list]]:
    table = connection.ops.quote_name(Membership._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    entries = [row for row in run if row.entered]
    exits = [row for row in run if not row.entered]
    for start in range(0, len(entries), ROWS_PER_STATEMENT):
        chunk = entries[start : start + ROWS_PER_STATEMENT]
        yield (
            f"WITH v(s, o, t) AS (VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) "  # noqa: S608
            f"INSERT INTO {table} (segment_id, owner, entered_at) SELECT s, o, t FROM v WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} h WHERE h.segment_id = v.s AND h.owner = v.o AND h.entered_at <= v.t "
            "AND (h.exited_at IS NULL OR h.exited_at > v.t)) "
            "ON CONFLICT DO NOTHING",
            [value for segment, owner, _, at in chunk for value in (segment, owner, adapt(at))],
        )
    for start in range(0, len(exits), ROWS_PER_STATEMENT):
        chunk = exits[start : start + ROWS_PER_STATEMENT]
        yield (
            f"WITH v(s, o, t) AS (VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) "  # noqa: S608
            f"UPDATE {table} SET exited_at = v.t FROM v WHERE {table}.segment_id = v.s AND {table}.owner = v.o "
            f"AND {table}.exited_at IS NULL AND {table}.entered_at <= v.t",
            [value for segment, owner, _, at in chunk for value in (segment, owner, adapt(at))],
        )
