-- Take the owners whose due-time has come, so two workers never fire the same one.
-- KEYS[1] the due sorted set; ARGV: now (epoch s), how many at most.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
end
return due
