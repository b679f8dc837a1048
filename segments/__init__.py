"""Segments: declarative conditions over the event record, kept true live, with cohorts and clusters."""
