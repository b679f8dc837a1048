"""Segments as a tracking hook: a batch's owner read ahead, then re-checked once it is stored; a login merges."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch
from tracking.owners import owner_key

from .services import catalogue_load, segments_ingest, segments_owner_merge, segments_read_ahead


class SegmentHook:
    def batch_arriving(self, *, visitor_id: uuid.UUID, user_id: int | None, redis: RedisBatch):
        catalogue = catalogue_load()
        if not catalogue.active:
            return None
        owner = owner_key(user_id=user_id, visitor_id=visitor_id)
        return segments_read_ahead(owner=owner, batch=redis, catalogue=catalogue)

    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        if not batch.events:
            return
        catalogue = catalogue_load()
        if not catalogue.active:
            return
        owner = owner_key(user_id=batch.user_id, visitor_id=batch.visitor_id)
        ahead = batch.read_ahead.get(SegmentHook)
        segments_ingest(owner=owner, events=batch.events, batch=redis, catalogue=catalogue, ahead=ahead)

    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        if not catalogue_load().active:
            return
        segments_owner_merge(
            visitor=owner_key(user_id=None, visitor_id=visitor_id), user=owner_key(user_id=user_id, visitor_id=None)
        )
