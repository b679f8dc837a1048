-- Count a batch into an owner's segment counters and read back only what the evaluator needs.
-- KEYS: the counts hash, the meta hash, the owner's segment set, the backfill handover hash, the
-- due-times sorted set.
-- ARGV: ttl seconds, now (epoch minute), a session's lifetime (ms), first ms, last ms, session of
-- the last event ('' first when the call counts nothing: a due-time's read), then M and M pairs
-- (session, its last event's ms in this batch), then S and S triples (counter id, scope
-- 'minute'|'session'|'all', horizon in minutes), then E and per event: event id, K, K pairs
-- (field, amount), then the owner's name in the due-times; then, to publish a verdict, the
-- state it was judged on (see below), the owner's next due-time ('' for none), N and N segments
-- entered, X and X exited, R and R journal rows (segments/record.py), with KEYS[6] the journal
-- and KEYS[7..] the member sets of the segments entered, then exited.
-- A verdict is published only when the state it was judged on is the state the counting left:
-- the counters read back, first ms, session and segments, as lines 'field=value' sorted, then
-- 'first=', 'session=' and 'in=' lines (segments.services.state_text). Any other writer of
-- the owner between that judgement and this call (a batch of theirs on another worker, a
-- due-time, a backfill) shows as a different state, and the caller judges again on the state
-- returned. The segments, the member sets, the due-time and the journal change in this one
-- script, so no reader sees a membership the journal lacks.
-- A handover holding 'open' means a backfill is reading this owner's record: each event counted
-- here is journaled so the backfill can add back what its read missed. An event the handover
-- marks 'c' was counted by a backfill already and is not counted twice.
-- Returns {counts as field, value pairs, first ms or '', session or '', segment slugs, the session
-- before this call or '', the owner's due-time (epoch second) or '', last ms or '', 1 when the
-- verdict was published, 0 when the state differed, '' when none was given}: with the session
-- before and the due-time, the caller re-checks only the segments the batch can have changed;
-- with last ms, it can work out what its next batch will leave (a read ahead). Only the
-- fields of the given counters come back. Minute buckets past every window are deleted, and so
-- are the buckets of sessions that are over: a session whose last event is more than a
-- session's lifetime before the owner's last can get no more events (its cookie expired), and
-- without this each visit's buckets stayed for a year. The backfill keeps the same ones
-- (segments.evaluator.stale_fields). Fields of counters not given (a definition this process has
-- not loaded yet) are kept but not read.
local counts, meta, held, handover = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local previous = redis.call('HGET', meta, 'session') or ''
local ttl, now_minute, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[4] ~= '' then
  local first = tonumber(redis.call('HGET', meta, 'first'))
  if not first or tonumber(ARGV[4]) < first then
    redis.call('HSET', meta, 'first', ARGV[4])
  end
  local last = tonumber(redis.call('HGET', meta, 'last'))
  if not last or tonumber(ARGV[5]) >= last then
    redis.call('HSET', meta, 'last', ARGV[5], 'session', ARGV[6])
  end
end
local i = 7
for _ = 1, tonumber(ARGV[i]) do
  local key = 'at:' .. ARGV[i + 1]
  local seen = tonumber(redis.call('HGET', meta, key))
  if not seen or tonumber(ARGV[i + 2]) > seen then
    redis.call('HSET', meta, key, ARGV[i + 2])
  end
  i = i + 2
end
i = i + 1
if ARGV[4] ~= '' then
  redis.call('EXPIRE', meta, ttl)
end
local session = redis.call('HGET', meta, 'session') or ''
local alive = {[session] = true}
local owner_last = tonumber(redis.call('HGET', meta, 'last'))
local stamps = redis.call('HGETALL', meta)
for j = 1, #stamps, 2 do
  local name = string.match(stamps[j], '^at:(.+)$')
  if name and name ~= session then
    if owner_last and tonumber(stamps[j + 1]) >= owner_last - lifetime then
      alive[name] = true
    else
      redis.call('HDEL', meta, stamps[j])
    end
  end
end
local specs = {}
for _ = 1, tonumber(ARGV[i]) do
  specs[ARGV[i + 1]] = {ARGV[i + 2], tonumber(ARGV[i + 3])}
  i = i + 3
end
i = i + 1
local marked = redis.call('EXISTS', handover) == 1
local open = marked and redis.call('HEXISTS', handover, 'open') == 1
-- A batch's events mostly add to the same few fields: summed here, one HINCRBY a field.
local sums, fields = {}, {}
for _ = 1, tonumber(ARGV[i]) do
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
  local spec = counter and specs[counter]
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
local first = redis.call('HGET', meta, 'first') or ''
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
    local k, key = at + 2, 7
    for _, command in ipairs({'SADD', 'SREM'}) do
      local n = tonumber(ARGV[k])
      if n > 0 then
        redis.call(command, held, unpack(ARGV, k + 1, k + n))
        for _ = 1, n do
          redis.call(command, KEYS[key], owner)
          key = key + 1
        end
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
return {out, first, session, members, previous, due, redis.call('HGET', meta, 'last') or '', published}
