"""How much each stored event counts in training: the shop's own records over the browser's claims.

Anyone can send the collector events, so a browser event is a claim; a cart change or an
order recorded by the cart and checkout services (source=server) is a fact. Events store no
address, so "many visitors from one address" is judged on what is stored instead: an
anonymous visitor with no account and no server-recorded cart change or order in the training
window is unproven, and unproven visitors on one item in the same hour are counted as if they
could all be one address. Imported datasets are history, not claims, and keep their weights.
"""

import numpy as np

from tracking.registry import EventName, Source

from .recommenders.base import EVENT_WEIGHTS

# A shopper's repeated events of one kind on one item count once per day: a reload, a second
# look or a quantity bumped in the cart is the same interest, not more of it.
VOTE_WINDOW_SECONDS = 86_400
# Unproven visitors on one item within this window count as sqrt(n), as a single address would.
CROWD_WINDOW_SECONDS = 3_600
# An item's unproven browsing counts at most this multiple of what proven shoppers gave it:
# views far outnumber cart changes, and the multiple leaves browsing room to order items, not
# to make a bestseller. A bound, not a figure fitted to live traffic (there was none to fit)...
UNPROVEN_PER_PROVEN = 4.0
# ...or what the typical item (this quantile of items with any) gets from unproven browsing:
# browsing alone lifts an item no higher than an ordinary item stands.
UNPROVEN_TYPICAL_QUANTILE = 0.5


def _groups(*keys: np.ndarray) -> np.ndarray:
    """A dense group number per row, equal where every key is equal (integer keys).

    The keys are packed into one integer and sorted once, ~6x faster than a lexsort over
    them on a million rows; a lexsort takes over where the packed key would not fit in 63 bits.
    """
    packed, span = np.zeros(len(keys[0]), dtype=np.int64), 1
    for key in keys:
        offset = key.astype(np.int64) - (int(key.min()) if len(key) else 0)
        size = int(offset.max()) + 1 if len(key) else 1
        span *= size
        if span >= 2**63:
            return _groups_sorted(*keys)
        packed = packed * size + offset
    return np.unique(packed, return_inverse=True)[1].astype(np.int64)


def _groups_sorted(*keys: np.ndarray) -> np.ndarray:
    order = np.lexsort(keys[::-1])
    same = np.ones(len(order), dtype=bool)
    for key in keys:
        ordered = key[order]
        same[1:] &= ordered[1:] == ordered[:-1]
    same[:1] = False
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(~same) - 1
    return ids


def event_votes(
    *,
    owners: np.ndarray,
    accounts: np.ndarray,
    items: np.ndarray,
    names: np.ndarray,
    sources: np.ndarray,
    times: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows training keeps (indices into the inputs, in input order) and the weight of each.

    owners number who did it (one integer per user or visitor: numbers sort far faster than
    the owner strings), accounts says whether that owner is a signed-in user; times are epoch
    seconds. Every model trains on what this returns.
    """
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    owner_codes = np.unique(owners, return_inverse=True)[1].astype(np.int64)
    weights = np.zeros(len(names), dtype=np.float64)
    for name, weight in EVENT_WEIGHTS.items():
        weights[names == name] = weight
    imported = sources == Source.IMPORT
    server = sources == Source.SERVER
    carts = names == EventName.ADD_TO_CART
    # The cart service records every real cart change itself: a browser's add_to_cart is at
    # most a look at the product, and nothing at all beside the server's record of the same.
    browser_carts = carts & ~server & ~imported
    weights[browser_carts] = EVENT_WEIGHTS[EventName.VIEW_ITEM]
    cells = _groups(owner_codes, items)
    echoed = browser_carts & np.isin(cells, cells[carts & server])
    live = np.flatnonzero(~imported & ~echoed)
    # One vote per owner, item, kind of evidence (its weight) and day: the latest one, for recency.
    kinds = np.searchsorted(np.unique(list(EVENT_WEIGHTS.values())), weights[live])
    votes = _groups(cells[live], kinds, (times[live] // VOTE_WINDOW_SECONDS).astype(np.int64))
    order = np.lexsort((times[live], votes))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = votes[order][1:] != votes[order][:-1]
    kept = np.sort(np.r_[np.flatnonzero(imported), live[order[last]]])
    owner_codes, items, weights, times = owner_codes[kept], items[kept], weights[kept], times[kept]

    proven_owner = np.zeros(int(owner_codes.max()) + 1, dtype=bool)
    proven_owner[owner_codes[server[kept] | accounts[kept]]] = True
    unproven = ~imported[kept] & ~proven_owner[owner_codes]
    if unproven.any():
        weights[unproven] *= _crowd_factors(items=items[unproven], owners=owner_codes[unproven], times=times[unproven])
        weights[unproven] *= _cap_factors(items=items, weights=weights, unproven=unproven)[unproven]
    return kept, weights.astype(np.float32)


def _crowd_factors(*, items: np.ndarray, owners: np.ndarray, times: np.ndarray) -> np.ndarray:
    """1/sqrt(n) per row, n the unproven visitors on the row's item in the row's hour."""
    crowds = _groups(items, (times // CROWD_WINDOW_SECONDS).astype(np.int64))
    voters = _groups(crowds, owners)
    first = np.unique(voters, return_index=True)[1]
    visitors = np.bincount(crowds[first], minlength=int(crowds.max()) + 1)
    return 1.0 / np.sqrt(visitors[crowds])


def _cap_factors(*, items: np.ndarray, weights: np.ndarray, unproven: np.ndarray) -> np.ndarray:
    """Per row, the share of its item's unproven weight that stays under the item's cap."""
    codes = np.unique(items, return_inverse=True)[1]
    size = int(codes.max()) + 1
    unproven_total = np.bincount(codes[unproven], weights=weights[unproven], minlength=size)
    proven_total = np.bincount(codes[~unproven], weights=weights[~unproven], minlength=size)
    typical = float(np.quantile(unproven_total[unproven_total > 0], UNPROVEN_TYPICAL_QUANTILE))
    cap = np.maximum(UNPROVEN_PER_PROVEN * proven_total, typical)
    share = np.divide(cap, unproven_total, out=np.ones(size), where=unproven_total > cap)
    return share[codes]
