-- Applies a batch of events to one live profile, atomically.
-- KEYS: recent, cat, brand, cart, bought, meta (see shop/keyspace.py)
-- ARGV[1]: JSON {half_life, recent_cap, ttl, now_ms, first, last, counts: {name: n},
--                events: [{n, t, p?, c?, b?, q?, w?}]}
-- counts and the time span cover every event of the batch; events lists only those that move
-- affinities, recent views, the cart or purchases, one entry per product of each.
-- Affinities are kept in log space: score = log(sum of weight * exp(lambda * t)), so
-- decay needs no rewrite of old entries and the order of members is the decayed order.
local batch = cjson.decode(ARGV[1])
local lambda = math.log(2) / batch.half_life
local null = cjson.null

local function present(value)
  return value ~= nil and value ~= null
end

local function bump(key, member, weight, t)
  if not present(member) or weight <= 0 then return end
  local add = math.log(weight) + lambda * t
  local current = redis.call('ZSCORE', key, member)
  if current then
    current = tonumber(current)
    local high, low = math.max(current, add), math.min(current, add)
    add = high + math.log(1 + math.exp(low - high))
  end
  redis.call('ZADD', key, add, member)
end

for _, event in ipairs(batch.events) do
  local t, product, name = event.t, event.p, event.n
  bump(KEYS[2], event.c, event.w or 0, t)
  bump(KEYS[3], event.b, event.w or 0, t)
  if present(product) then
    if name == 'view_item' or name == 'select_item' or name == 'add_to_cart' then
      redis.call('LREM', KEYS[1], 0, product)
      redis.call('LPUSH', KEYS[1], product)
    end
    local quantity = event.q or 1
    if name == 'add_to_cart' then
      redis.call('HINCRBY', KEYS[4], product, quantity)
    elseif name == 'remove_from_cart' then
      if redis.call('HINCRBY', KEYS[4], product, -quantity) <= 0 then
        redis.call('HDEL', KEYS[4], product)
      end
    elseif name == 'purchase' then
      redis.call('ZADD', KEYS[5], t, product)
      redis.call('HDEL', KEYS[4], product)
    end
  end
end
for name, count in pairs(batch.counts) do
  redis.call('HINCRBY', KEYS[6], 'n:' .. name, count)
end

redis.call('LTRIM', KEYS[1], 0, batch.recent_cap - 1)
local seen = tonumber(redis.call('HGET', KEYS[6], 'first_seen'))
if seen == nil or batch.first < seen then redis.call('HSET', KEYS[6], 'first_seen', batch.first) end
seen = tonumber(redis.call('HGET', KEYS[6], 'last_seen'))
if seen == nil or batch.last > seen then redis.call('HSET', KEYS[6], 'last_seen', batch.last) end
redis.call('HSET', KEYS[6], 'updated_ms', batch.now_ms)

for _, key in ipairs(KEYS) do
  if batch.ttl > 0 then
    redis.call('EXPIRE', key, batch.ttl)
  else
    redis.call('PERSIST', key)
  end
end
return #batch.events
