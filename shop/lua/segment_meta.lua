-- An owner's first and last event, whatever order batches arrive in.
-- KEYS[1] the meta hash; ARGV: first ms, last ms, session of the last event, ttl seconds.
local first = tonumber(redis.call('HGET', KEYS[1], 'first'))
if not first or tonumber(ARGV[1]) < first then
  redis.call('HSET', KEYS[1], 'first', ARGV[1])
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if not last or tonumber(ARGV[2]) >= last then
  redis.call('HSET', KEYS[1], 'last', ARGV[2], 'session', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
