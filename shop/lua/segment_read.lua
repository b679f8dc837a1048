-- Read an owner's segment state as stored, ahead of their batch (segments.services.segments_read_ahead):
-- one call where eight commands cost the collector's process more to send and parse than the reads.
-- KEYS: the counts hash, the meta hash, the owner's segment set, the due-times sorted set, the
-- backfill handover hash, the membership journal, the journal's drain lock. ARGV: the owner's
-- name in the due-times.
-- Returns {counts as field, value pairs, {first, last, session} (false for none), segment slugs,
-- due-time (epoch second) or '', 1 if a handover exists, journal length, its oldest row or '',
-- 1 if a drain holds the lock}.
return {
  redis.call('HGETALL', KEYS[1]),
  redis.call('HMGET', KEYS[2], 'first', 'last', 'session'),
  redis.call('SMEMBERS', KEYS[3]),
  redis.call('ZSCORE', KEYS[4], ARGV[1]) or '',
  redis.call('EXISTS', KEYS[5]),
  redis.call('LLEN', KEYS[6]),
  redis.call('LINDEX', KEYS[6], 0) or '',
  redis.call('EXISTS', KEYS[7]),
}
