-- A published document (the merchandising rules) read only when it changed since the caller's copy.
-- KEYS[1] its version, KEYS[2] the document (one hash tag); ARGV[1] the version the caller holds.
-- Returns false when the caller's copy is current, else {version, document} (each false when
-- nothing is published: Redis was flushed, or never told).
local version = redis.call('GET', KEYS[1])
if version and version == ARGV[1] then return false end
return {version, redis.call('GET', KEYS[2])}
