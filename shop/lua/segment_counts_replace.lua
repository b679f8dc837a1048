-- A backfill's counters for one owner replace the live ones, keeping what the backfill's read missed.
-- KEYS: the counts hash, the meta hash, the handover hash (opened before the backfill read the record).
-- ARGV: counts ttl, handover ttl, first ms ('' for none), last ms, session of the last event, M and
-- M pairs (a session not over, its last event's ms), N and N (field, value) pairs, then the ids
-- of the events the backfill counted that a live batch may still be counting (the recently
-- received ones). Returns how many events it added back: their owner's memberships are then
-- re-checked from the merged counters.
-- Live batches journaled in the handover while it was open add back each event the backfill did
-- not count (stored after its read); each event it did count is marked 'c', so a live batch
-- counting it late (its hook ran after this) skips it instead of counting it twice.
local counts, meta, handover = KEYS[1], KEYS[2], KEYS[3]
local ttl, handover_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local m = tonumber(ARGV[6])
local n_at = 7 + 2 * m
local n = tonumber(ARGV[n_at])
local ids_at = n_at + 1 + 2 * n
local counted = {}
for j = ids_at, #ARGV do
  counted[ARGV[j]] = true
end
local journal = redis.call('HGETALL', handover)
redis.call('DEL', counts, handover)
-- unpack() takes a few thousand values at most.
for j = n_at + 1, ids_at - 1, 2000 do
  redis.call('HSET', counts, unpack(ARGV, j, math.min(j + 1999, ids_at - 1)))
end
local readded = 0
for j = 1, #journal, 2 do
  local id, entry = journal[j], journal[j + 1]
  if id ~= 'open' and entry ~= 'c' and not counted[id] then
    readded = readded + 1
    for field, amount in string.gmatch(entry, '(%S+) (%S+)') do
      redis.call('HINCRBY', counts, field, amount)
    end
  end
end
if redis.call('EXISTS', counts) == 1 then
  redis.call('EXPIRE', counts, ttl)
end
if ids_at <= #ARGV then
  for j = ids_at, #ARGV do
    redis.call('HSET', handover, ARGV[j], 'c')
  end
  redis.call('EXPIRE', handover, handover_ttl)
end
if ARGV[3] == '' then
  return readded
end
-- The record's first event wins; a live batch newer than the backfill's last keeps its session.
redis.call('HSET', meta, 'first', ARGV[3])
local last = tonumber(redis.call('HGET', meta, 'last'))
if not last or tonumber(ARGV[4]) >= last then
  redis.call('HSET', meta, 'last', ARGV[4], 'session', ARGV[5])
end
for j = 7, n_at - 1, 2 do
  local key = 'at:' .. ARGV[j]
  local seen = tonumber(redis.call('HGET', meta, key))
  if not seen or tonumber(ARGV[j + 1]) > seen then
    redis.call('HSET', meta, key, ARGV[j + 1])
  end
end
redis.call('EXPIRE', meta, ttl)
return readded
