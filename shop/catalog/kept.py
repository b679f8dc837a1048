"""What listings show every visitor alike, kept per process until the catalogue's version moves on.

A category's facets and count, a search's correction, the products of a listing's page: the same
for everyone until a change to the catalogue commits, and every such commit moves the version on
(migration 0006, read by selectors.catalog_version). Asking for the version is one short query;
what is kept under it spares a listing's others. Without a version (the embedded SQLite, or a
transaction that has itself changed the catalogue and not committed yet) nothing is kept.
"""

import threading
from collections.abc import Callable
from typing import TypeVar

# Entries of one version: a listing's head (facets, count, correction) and its pages, a category.
# A page's 24 products with what their cards need are about 60 KB; 1,000 entries stay well under
# 100 MB a process even if all were pages, and a version's change empties them at once.
KEPT = 1000

T = TypeVar("T")

_kept: dict[tuple, object] = {}
_newest = [0]
_lock = threading.Lock()


def listing_kept(*, version: int | None, key: tuple, make: Callable[[], T]) -> T:
    """What make() returns, made once per process for this version of the catalogue."""
    if version is None:
        return make()
    found = _kept.get((version, key), _kept)
    if found is not _kept:
        return found
    value = make()
    with _lock:
        if version < _newest[0]:
            return value  # read before a newer version committed: no one asks for it again
        if version > _newest[0]:
            # Nothing kept for an older version is asked for again: the version only moves on.
            _newest[0] = version
            _kept.clear()
        _kept[(version, key)] = value
        while len(_kept) > KEPT:
            del _kept[next(iter(_kept))]
    return value
