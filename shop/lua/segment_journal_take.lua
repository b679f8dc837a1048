-- Take rows of the membership journal to apply: those a drainer took and did not clear (it died
-- before emptying its list) first, else up to ARGV[1] from the journal's head, moved to that list.
-- KEYS[1] the journal, KEYS[2] the drainer's list; only the lock's holder calls this.
local taken = redis.call('LRANGE', KEYS[2], 0, -1)
if #taken > 0 then
  return taken
end
local rows = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #rows > 0 then
  redis.call('LTRIM', KEYS[1], #rows, -1)
  redis.call('RPUSH', KEYS[2], unpack(rows))
end
return rows
