-- Count a batch into an owner's segment counters and read back only what the evaluator needs.
-- KEYS: the counts hash, the meta hash, the owner's segment set, the backfill handover hash, the
-- due-times sorted set.
-- ARGV: ttl seconds, now (epoch minute), a session's lifetime (ms), first ms, last ms, session of
-- the last event ('' first when the call counts nothing: a due-time's read), then M and M pairs
-- (session, its last event's ms in this batch), then the counters as one text of space-separated
-- triples (counter id, scope 'minute'|'session'|'all', horizon in minutes), then E and per event:
-- event id, K, K pairs (field, amount); or, for a batch summed (its events' ids left out: the
-- caller saw no handover), -1, K and K pairs; then the owner's name in the due-times; then, to
-- publish a verdict, the state it was judged on (see below), the owner's next due-time ('' for
-- none), N and N segments entered, X and X exited, R and R journal rows (segments/record.py),
-- with KEYS[6] the journal.
-- A verdict is published only when the state it was judged on is the state the counting left:
-- the counters read back, first ms, session and segments, as lines 'field=value' sorted, then
-- 'first=', 'session=' and 'in=' lines (segments.services.state_text). Any other writer of
-- the owner between that judgement and this call (a batch of theirs on another worker, a
-- due-time, a backfill) shows as a different state, and the caller judges again on the state
-- returned. The owner's segments, the due-time and the journal change in this one script, so
-- no reader sees a membership the journal lacks.
-- A handover holding 'open' means a backfill is reading this owner's record: each event counted
-- here is journaled so the backfill can add back what its read missed. An event the handover
-- marks 'c' was counted by a backfill already and is not counted twice. A summed batch cannot be
-- asked about event by event: if a handover exists by then, the script writes nothing and returns
-- 'handover', and the caller sends the batch again with its events' ids.
-- Returns {counts as field, value pairs, first ms or '', session or '', segment slugs, the session
-- before this call or '', the owner's due-time (epoch second) or '', last ms or '', 1 when the
-- verdict was published, 0 when the state differed, '' when none was given}, or {1} alone when
-- it was published: with the session before and the due-time, the caller re-checks only the
-- segments the batch can have changed; with last ms, it can work out what its next batch will
-- leave (a read ahead). Only the fields of the given counters come back. Minute buckets past
-- every window are deleted, and so are the buckets of sessions that are over: a session whose
-- last event is more than a session's lifetime before the owner's last can get no more events
-- (its cookie expired), and without this each visit's buckets stayed for a year. The backfill keeps the same ones
-- (segments.evaluator.stale_fields). Fields of counters not given (a definition this process has
-- not loaded yet) are kept but not read.
local counts, meta, held, handover = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local marked = redis.call('EXISTS', handover) == 1
if marked and tonumber(ARGV[9 + 2 * tonumber(ARGV[7])]) < 0 then
  return 'handover'
end
-- The meta hash read once: first, last, session and each session's last event ('at:' fields).
local stored = {}
local flat_meta = redis.call('HGETALL', meta)
for j = 1, #flat_meta, 2 do
  stored[flat_meta[j]] = flat_meta[j + 1]
end
local previous = stored['session'] or ''
local ttl, now_minute, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local changed = {}
if ARGV[4] ~= '' then
  local first = tonumber(stored['first'])
  if not first or tonumber(ARGV[4]) < first then
    changed[#changed + 1] = 'first'
    stored['first'] = ARGV[4]
  end
  local last = tonumber(stored['last'])
  if not last or tonumber(ARGV[5]) >= last then
    changed[#changed + 1] = 'last'
    changed[#changed + 1] = 'session'
    stored['last'], stored['session'] = ARGV[5], ARGV[6]
  end
end
local i = 7
for _ = 1, tonumber(ARGV[i]) do
  local key = 'at:' .. ARGV[i + 1]
  local seen = tonumber(stored[key])
  if not seen or tonumber(ARGV[i + 2]) > seen then
    changed[#changed + 1] = key
    stored[key] = ARGV[i + 2]
  end
  i = i + 2
end
i = i + 1
local session = stored['session'] or ''
local alive = {[session] = true}
local owner_last = tonumber(stored['last'])
local over = {}
for name, at in pairs(stored) do
  local stamped = string.match(name, '^at:(.+)$')
  if stamped and stamped ~= session then
    if owner_last and tonumber(at) >= owner_last - lifetime then
      alive[stamped] = true
    else
      over[#over + 1] = name
      stored[name] = nil
    end
  end
end
if #changed > 0 then
  local pairs_set = {}
  for _, name in ipairs(changed) do
    if stored[name] then
      pairs_set[#pairs_set + 1] = name
      pairs_set[#pairs_set + 1] = stored[name]
    end
  end
  if #pairs_set > 0 then
    redis.call('HSET', meta, unpack(pairs_set))
  end
end
for j = 1, #over, 1000 do
  redis.call('HDEL', meta, unpack(over, j, math.min(j + 999, #over)))
end
if ARGV[4] ~= '' then
  redis.call('EXPIRE', meta, ttl)
end
-- A spec is looked up only for the counters the hash holds: parsing all of them cost a quarter of
-- the call. A counter id (ten hex digits) between spaces is never a scope or a horizon.
local spec_text, specs = ' ' .. ARGV[i], {}
local function spec_of(counter)
  local spec = specs[counter]
  if spec == nil then
    spec = false
    local at = string.find(spec_text, ' ' .. counter .. ' ', 1, true)
    if at then
      local scope, horizon = string.match(spec_text, '^(%S+) (%d+)', at + #counter + 2)
      spec = {scope, tonumber(horizon)}
    end
    specs[counter] = spec
  end
  return spec
end
i = i + 1
local open = marked and redis.call('HEXISTS', handover, 'open') == 1
-- A batch's events mostly add to the same few fields: summed here, one HINCRBY a field.
local sums, fields = {}, {}
local events = tonumber(ARGV[i])
if events < 0 then
  -- Summed by the caller: one entry, its fields' totals.
  local k = tonumber(ARGV[i + 1])
  for j = i + 2, i + 2 * k, 2 do
    fields[#fields + 1] = ARGV[j]
    sums[ARGV[j]] = tonumber(ARGV[j + 1])
  end
  i = i + 2 * k + 1
  events = 0
end
for _ = 1, events do
  local id, k = ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  if k > 0 and not (marked and redis.call('HGET', handover, id) == 'c') then
    local journal = {}
    for j = i, i + 2 * k - 1, 2 do
      local field = ARGV[j]
      if not sums[field] then
        fields[#fields + 1] = field
        sums[field] = 0
      end
      sums[field] = sums[field] + tonumber(ARGV[j + 1])
      if open then
        journal[#journal + 1] = field .. ' ' .. ARGV[j + 1]
      end
    end
    if open then
      redis.call('HSET', handover, id, table.concat(journal, ' '))
    end
  end
  i = i + 2 * k - 1
end
for _, field in ipairs(fields) do
  redis.call('HINCRBY', counts, field, string.format('%.0f', sums[field]))
end
local due = redis.call('ZSCORE', KEYS[5], ARGV[i + 1]) or ''
if #fields > 0 then
  redis.call('EXPIRE', counts, ttl)
end
local flat = redis.call('HGETALL', counts)
local out, stale = {}, {}
for j = 1, #flat, 2 do
  local field = flat[j]
  local counter, bucket = string.match(field, '^([^|]+)|[cs]|(.+)$')
  local spec = counter and spec_of(counter)
  if spec then
    local keep
    if spec[1] == 'minute' then
      keep = tonumber(bucket) ~= nil and tonumber(bucket) > now_minute - spec[2]
    elseif spec[1] == 'session' then
      keep = alive[bucket] ~= nil
    else
      keep = true
    end
    if keep and (spec[1] ~= 'session' or bucket == session) then
      out[#out + 1] = field
      out[#out + 1] = flat[j + 1]
    elseif not keep then
      stale[#stale + 1] = field
    end
  end
end
-- unpack() takes a few thousand values at most.
for j = 1, #stale, 1000 do
  redis.call('HDEL', counts, unpack(stale, j, math.min(j + 999, #stale)))
end
local first = stored['first'] or ''
local members = redis.call('SMEMBERS', held)
local published = ''
local at = i + 2
if ARGV[at] then
  local lines, names = {}, {}
  for j = 1, #out, 2 do
    lines[#lines + 1] = out[j] .. '=' .. out[j + 1]
  end
  table.sort(lines)
  lines[#lines + 1] = 'first=' .. first
  lines[#lines + 1] = 'session=' .. session
  for j = 1, #members do
    names[j] = 'in=' .. members[j]
  end
  table.sort(names)
  for j = 1, #names do
    lines[#lines + 1] = names[j]
  end
  published = 0
  if table.concat(lines, '\n') == ARGV[at] then
    published = 1
    local owner, next_due = ARGV[i + 1], ARGV[at + 1]
    local k = at + 2
    for _, command in ipairs({'SADD', 'SREM'}) do
      local n = tonumber(ARGV[k])
      if n > 0 then
        redis.call(command, held, unpack(ARGV, k + 1, k + n))
      end
      k = k + n + 1
    end
    local rows = tonumber(ARGV[k])
    if rows > 0 then
      redis.call('RPUSH', KEYS[6], unpack(ARGV, k + 1, k + rows))
    end
    if next_due == '' then
      redis.call('ZREM', KEYS[5], owner)
    else
      redis.call('ZADD', KEYS[5], next_due, owner)
    end
  end
end
if published == 1 then
  -- The caller judged this very state: it needs to know only that the verdict went out.
  return {1}
end
return {out, first, session, members, previous, due, stored['last'] or '', published}
