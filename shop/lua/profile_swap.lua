-- Replaces a live profile with the one a rebuild assembled beside it, atomically: a page
-- reads either the old profile or the new one, never a mix and never none.
-- KEYS: the six staging keys, then the six live keys, in the same order (see shop/keyspace.py)
-- ARGV[1]: seconds the profile lives without activity (anonymous), or 0 to keep it (signed in)
local parts = #KEYS / 2
local ttl = tonumber(ARGV[1])
for i = 1, parts do
  local staged, live = KEYS[i], KEYS[parts + i]
  if redis.call('EXISTS', staged) == 1 then
    redis.call('RENAME', staged, live)
    if ttl > 0 then
      redis.call('EXPIRE', live, ttl)
    else
      redis.call('PERSIST', live)
    end
  else
    -- The rebuilt profile has nothing here (an emptied cart): the live part goes too.
    redis.call('DEL', live)
  end
end
return parts
