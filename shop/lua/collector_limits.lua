-- The collector's limits for one batch, decided and counted atomically.
-- KEYS: address events this minute, visitor events this minute, visitors seen from the address
--       this hour, the same last hour, new visitors from the address this hour (shop/keyspace.py)
-- ARGV: visitor, cost, per-visitor limit, per-address limit, new-visitor budget,
--       minute keys' TTL, hour keys' TTL
-- Returns 0 when the batch may go in, else what refused it: 1 the new-visitor budget,
-- 2 the visitor's limit, 3 the address's limit. A refused batch counts against nothing, so a
-- flood of refused batches cannot use up what the address's other visitors may still send.
local visitor = ARGV[1]
local cost = tonumber(ARGV[2])

local seen_now = redis.call('SISMEMBER', KEYS[3], visitor) == 1
local fresh = not seen_now and redis.call('SISMEMBER', KEYS[4], visitor) == 0
if fresh and tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[5]) then
  return 1
end
if tonumber(redis.call('GET', KEYS[2]) or '0') + cost > tonumber(ARGV[3]) then
  return 2
end
if tonumber(redis.call('GET', KEYS[1]) or '0') + cost > tonumber(ARGV[4]) then
  return 3
end

if fresh then
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
if not seen_now then
  -- Seen last hour but not yet this one: carried over without spending the budget.
  redis.call('SADD', KEYS[3], visitor)
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
for _, key in ipairs({KEYS[1], KEYS[2]}) do
  redis.call('INCRBY', key, cost)
  redis.call('EXPIRE', key, ARGV[6])
end
return 0
