"""The hooks tracking calls: after storing a batch, and when a visitor turns out to be a user."""

from .profiles import profile_delete, profile_owner, profiles_apply, profiles_rebuild


def events_ingested(events: list, *, batch) -> None:
    """Queue the profile updates on the ingest's RedisBatch, sent with its counters."""
    profiles_apply(events, batch=batch)


def visitor_identified(*, visitor_id, user_id: int) -> None:
    """The visitor's history now belongs to the user: rebuild the user's profile from the
    record (one code path, no merge arithmetic) and drop the anonymous one."""
    profiles_rebuild(owners={profile_owner(visitor_id=None, user_id=user_id)})
    profile_delete(owner=profile_owner(visitor_id=visitor_id, user_id=None))
