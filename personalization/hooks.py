"""Live profiles as a tracking hook: each stored batch moves its owner's profile, a login rebuilds the user's."""

import uuid

from shop.keyspace import RedisBatch
from tracking.hooks import StoredBatch

from .profiles import profile_delete, profile_owner, profiles_apply, profiles_rebuild


class ProfileHook:
    def batch_stored(self, batch: StoredBatch, *, redis: RedisBatch) -> None:
        """Queue the profile updates on the ingest's RedisBatch, sent with the other hooks' commands."""
        if batch.events:
            profiles_apply(list(batch.events), batch=redis)

    def visitor_identified(self, *, visitor_id: uuid.UUID, user_id: int) -> None:
        """The visitor's history now belongs to the user: rebuild the user's profile from the
        record (one code path, no merge arithmetic) and drop the anonymous one."""
        profiles_rebuild(owners={profile_owner(visitor_id=None, user_id=user_id)})
        profile_delete(owner=profile_owner(visitor_id=visitor_id, user_id=None))
