"""Segments as a tracking hook: a stored batch re-checks its owner's segments, a login merges the visitor's."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch
from tracking.owners import owner_key

from .services import catalogue_load, segments_ingest, segments_owner_merge


class SegmentHook:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        if not batch.events:
            return
        catalogue = catalogue_load()
        if not catalogue.active:
            return
        owner = owner_key(user_id=batch.user_id, visitor_id=batch.visitor_id)
        segments_ingest(owner=owner, events=batch.events, batch=redis, catalogue=catalogue)

    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        if not catalogue_load().active:
            return
        segments_owner_merge(
            visitor=owner_key(user_id=None, visitor_id=visitor_id), user=owner_key(user_id=user_id, visitor_id=None)
        )
