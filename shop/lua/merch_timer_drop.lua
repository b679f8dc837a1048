-- Drop an absence timer from the due set (KEYS[1] a sorted set) or an owner's timers (a hash
-- whose values start with the due time in ms). ARGV: the member or field; then either
-- ARGV[2] = the awaited event's time (ms): dropped only when it came before the timer was due
-- (an add_to_cart after the ten minutes does not undo an absence that already happened), or
-- ARGV[3] = the due time a firing read: dropped only if the timer still has that due time
-- (a timer set again meanwhile is a new one and stays).
local due
if redis.call('TYPE', KEYS[1]).ok == 'zset' then
  due = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
else
  local value = redis.call('HGET', KEYS[1], ARGV[1])
  due = value and tonumber(string.match(value, '^(%d+)'))
end
if not due then return 0 end
local drop
if ARGV[3] and ARGV[3] ~= '' then drop = due == tonumber(ARGV[3]) else drop = tonumber(ARGV[2]) < due end
if not drop then return 0 end
if redis.call('TYPE', KEYS[1]).ok == 'zset' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
