-- One push to a visitor's open pages: the next sequence number, the entry appended to the
-- visitor's recent pushes (the oldest dropped past the cap), both keys' lifetime renewed.
-- KEYS: seq counter, pushes list (shop.keyspace.live_push_keys)
-- ARGV: entry (a JSON object, without its seq), cap of entries kept, seconds kept
-- Returns the entry's sequence number.
local seq = redis.call('INCR', KEYS[1])
local entry = cjson.decode(ARGV[1])
entry['seq'] = seq
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
