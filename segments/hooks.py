"""Segments as a tracking hook: each stored batch re-checks its owner's segments."""

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch
from tracking.owners import owner_key

from .services import catalogue_load, segments_ingest


class SegmentHook:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        if not batch.events:
            return
        catalogue = catalogue_load()
        if not catalogue.active:
            return
        owner = owner_key(user_id=batch.user_id, visitor_id=batch.visitor_id)
        segments_ingest(owner=owner, events=batch.events, batch=redis, catalogue=catalogue)
