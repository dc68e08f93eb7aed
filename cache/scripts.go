package cache

import "github.com/redis/go-redis/v9"

// writeScript applies one session write atomically: it compares the stored record with
// the value the caller read (compare-and-set), replaces or deletes it, moves the record's
// index entries, and publishes the event, all in one step so that no reader ever sees a
// record without its index entries or the reverse, and events leave in write order.
//
//	KEYS[1]            record key
//	KEYS[2 .. r+1]     indexes the record leaves
//	KEYS[r+2 ..]       indexes the record joins
//	ARGV[1]            expected current value ("" = the record must not exist)
//	ARGV[2]            new value ("" = delete the record)
//	ARGV[3]            index member
//	ARGV[4]            r
//	ARGV[5], ARGV[6]   event channel ("" = none) and message
//	ARGV[7]            the publish command: PUBLISH, or SPUBLISH on a cluster (the
//	                   channel carries the tenant's hash tag, so it is in the keys' slot)
//	ARGV[8 ..]         one score per joined index, in KEYS order
//
// It returns 1 when applied and 0 when the record changed since it was read.
var writeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
elseif ARGV[2] ~= cur then
  redis.call('SET', KEYS[1], ARGV[2])
end
local r = tonumber(ARGV[4])
for i = 2, r + 1 do
  redis.call('ZREM', KEYS[i], ARGV[3])
end
for i = r + 2, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[i - r + 6], ARGV[3])
end
if ARGV[5] ~= '' then
  redis.call(ARGV[7], ARGV[5], ARGV[6])
end
return 1
`)

// pageScript reads one page of a tenant's sessions in one round trip.
//
// The indexes in KEYS are intersected (the smallest one is walked, membership in the
// others checked), so a page filtered on one field walks only that field's index. A
// window is a range of the walk in index order (createdAt, then id) plus a direction:
//
//	take ("top" walks from the highest entry down, "bottom" from the lowest up; "" = no window)
//	limit
//	lower bound: score ("" = none), id, inclusive ("1"/"0")
//	upper bound: score ("" = none), id, inclusive
//
//	ARGV[1]        record key prefix (the id is appended)
//	ARGV[2 .. 9]   the page window
//	ARGV[10 .. 17] a second window, only tested for being non-empty
//	ARGV[18 .. 19] score range to count ("" = do not count)
//
// It returns {more, other, count, record...}: more is 1 when the page window holds more
// than limit entries, other is 1/0 for the second window (-1 when not asked), count is
// the number of entries in the counted range (-1 when not asked).
var pageScript = redis.NewScript(`
local function mid(m)
  local a, b, c, d = string.byte(m, 1, 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function window(i)
  if ARGV[i] == '' then return nil end
  local w = {top = ARGV[i] == 'top', limit = tonumber(ARGV[i + 1])}
  if ARGV[i + 2] ~= '' then
    w.lo = {tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), ARGV[i + 4] == '1', ARGV[i + 2]}
  end
  if ARGV[i + 5] ~= '' then
    w.hi = {tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), ARGV[i + 7] == '1', ARGV[i + 5]}
  end
  return w
end

local function within(w, s, id)
  local b = w.lo
  if b and (s < b[1] or (s == b[1] and (id < b[2] or (id == b[2] and not b[3])))) then
    return false
  end
  b = w.hi
  if b and (s > b[1] or (s == b[1] and (id > b[2] or (id == b[2] and not b[3])))) then
    return false
  end
  return true
end

local keys = KEYS
if #keys > 1 then
  local best, size = 1, redis.call('ZCARD', keys[1])
  for i = 2, #keys do
    local n = redis.call('ZCARD', keys[i])
    if n < size then best, size = i, n end
  end
  keys[1], keys[best] = keys[best], keys[1]
end

local function member_of_all(m)
  for i = 2, #keys do
    if not redis.call('ZSCORE', keys[i], m) then return false end
  end
  return true
end

-- walk calls visit(id) for every entry of the window in its order until visit returns
-- false. Batches resume at the last score seen, skipping the entries already seen there.
local function walk(w, batch, visit)
  local lo, hi = '-inf', '+inf'
  if w.lo then lo = w.lo[4] end
  if w.hi then hi = w.hi[4] end
  local offset = 0
  while true do
    local res
    if w.top then
      res = redis.call('ZREVRANGEBYSCORE', keys[1], hi, lo, 'WITHSCORES', 'LIMIT', offset, batch)
    else
      res = redis.call('ZRANGEBYSCORE', keys[1], lo, hi, 'WITHSCORES', 'LIMIT', offset, batch)
    end
    local last, lastS, tie = nil, nil, 0
    for i = 1, #res, 2 do
      local m, raw = res[i], res[i + 1]
      local s = tonumber(raw)
      if within(w, s, mid(m)) and member_of_all(m) then
        if not visit(mid(m)) then return end
      end
      if s == lastS then tie = tie + 1 else lastS, last, tie = s, raw, 1 end
    end
    if #res < 2 * batch then return end
    local bound = lo
    if w.top then bound = hi end
    if tonumber(bound) == lastS then
      offset = offset + tie
    else
      offset = tie
    end
    if w.top then hi = last else lo = last end
  end
end

local function batch_for(limit)
  if #keys > 1 then return math.max(limit + 2, 64) end
  return limit + 2
end

local page = {}
local more = 0
local w = window(2)
walk(w, batch_for(w.limit + 1), function(id)
  if #page >= w.limit then
    more = 1
    return false
  end
  page[#page + 1] = id
  return true
end)

local other = -1
local o = window(10)
if o then
  other = 0
  walk(o, batch_for(1), function(id)
    other = 1
    return false
  end)
end

local count = -1
if ARGV[18] ~= '' then
  if #keys == 1 then
    count = redis.call('ZCOUNT', keys[1], ARGV[18], ARGV[19])
  else
    count = 0
    local c = {top = false, limit = 0,
      lo = {tonumber(ARGV[18]) or -math.huge, 0, true, ARGV[18]},
      hi = {tonumber(ARGV[19]) or math.huge, math.huge, true, ARGV[19]}}
    walk(c, 256, function(id)
      count = count + 1
      return true
    end)
  end
end

local out = {more, other, count}
for i = 1, #page do
  local rec = redis.call('GET', ARGV[1] .. tostring(page[i]))
  if rec then out[#out + 1] = rec end
end
return out
`)
