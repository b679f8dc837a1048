"""The event record: tracker, collector, event store, identity and sessions."""
