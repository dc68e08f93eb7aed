package cache

import "github.com/redis/go-redis/v9"

// writeScript applies one session write atomically: it compares the stored record with
// the value the caller read (compare-and-set), replaces or deletes it, moves the record's
// index entries, and publishes the event, all in one step so that no reader ever sees a
// record without its index entries or the reverse, and events leave in write order.
//
//	KEYS[1]            record key
//	KEYS[2 .. r+1]     indexes the record leaves (their plain keys, see keys)
//	KEYS[r+2 .. n-1]   indexes the record joins
//	KEYS[n]            the tenant's guard key (keys.guard)
//	ARGV[1]            expected current value ("" = the record must not exist)
//	ARGV[2]            new value ("" = delete the record)
//	ARGV[3]            index member
//	ARGV[4]            r
//	ARGV[5], ARGV[6]   event channel ("" = none) and message
//	ARGV[7]            the publish command: PUBLISH, or SPUBLISH on a cluster (the
//	                   channel carries the tenant's hash tag, so it is in the keys' slot)
//	ARGV[8]            tenant base (every index key starts with it)
//	ARGV[9 ..]         one score per index, in KEYS order: the entry's current score for
//	                   a left index (a chunked index locates the entry by it), the new
//	                   score for a joined one
//
// It returns 1 when applied and 0 when the record changed since it was read.
var writeScript = redis.NewScript(ixLua + `
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
  ix_rem(ix_open(ARGV[8], KEYS[i]), ARGV[i + 7], ARGV[3])
end
for i = r + 2, #KEYS - 1 do
  ix_add(ix_open(ARGV[8], KEYS[i]), ARGV[i + 7], ARGV[3])
end
if ARGV[5] ~= '' then
  redis.call(ARGV[7], ARGV[5], ARGV[6])
end
return 1
`)

// pageScript reads one page of a tenant's sessions in one round trip.
//
// The indexes in KEYS (all but the last, the tenant's guard key) are intersected (the
// smallest one is walked, membership in the others checked by the walked entry's score,
// createdAt in every creation index), so a page filtered on one field walks only that
// field's index. A window is a range of the walk in index order (createdAt, then id) plus
// a direction:
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
//	ARGV[20]       tenant base (every index key starts with it)
//
// A chunked index is walked chunk by chunk from the chunk holding the window's bound in
// walking direction (found with one ZREVRANGEBYLEX on its directory), so a page costs
// O(log N + page) in either form.
//
// It returns {more, other, count, record...}: more is 1 when the page window holds more
// than limit entries, other is 1/0 for the second window (-1 when not asked), count is
// the number of entries in the counted range (-1 when not asked).
var pageScript = redis.NewScript(ixLua + `
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

-- the id as a 4-byte member, for locating a window bound's chunk (ids past 2^32 do not
-- occur; a bound id is clamped into range)
local function member_of(id)
  if id < 0 then id = 0 end
  if id > 4294967295 then id = 4294967295 end
  return string.char(math.floor(id / 16777216) % 256, math.floor(id / 65536) % 256, math.floor(id / 256) % 256, id % 256)
end

local base = ARGV[20]
local ixs = {}
for i = 1, #KEYS - 1 do ixs[i] = ix_open(base, KEYS[i]) end
if #ixs > 1 then
  local best, size = 1, ix_size(ixs[1])
  for i = 2, #ixs do
    local n = ix_size(ixs[i])
    if n < size then best, size = i, n end
  end
  ixs[1], ixs[best] = ixs[best], ixs[1]
end

local function member_of_all(s, m)
  for i = 2, #ixs do
    if not ix_has(ixs[i], s, m) then return false end
  end
  return true
end

-- walk calls visit(id) for every entry of the window in its order until visit returns
-- false.
local function walk(w, batch, visit)
  local lo, hi = '-inf', '+inf'
  if w.lo then lo = w.lo[4] end
  if w.hi then hi = w.hi[4] end
  local from = nil
  local b = w.lo
  if w.top then b = w.hi end
  if b then from = {b[1], member_of(b[2])} end
  ix_walk(ixs[1], w.top, lo, hi, from, batch, function(s, m)
    local id = ix_id(m)
    if within(w, s, id) and member_of_all(s, m) then
      return visit(id)
    end
    return true
  end)
end

local function batch_for(limit)
  if #ixs > 1 then return math.max(limit + 2, 64) end
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
  if #ixs == 1 then
    count = ix_count(ixs[1], ARGV[18], ARGV[19])
  else
    count = 0
    local c = {top = false, limit = 0,
      lo = {tonumber(ARGV[18]) or -math.huge, 0, true, ARGV[18]},
      hi = {tonumber(ARGV[19]) or math.huge, math.huge, true, ARGV[19]}}
    if ARGV[18] == '-inf' then c.lo = nil end
    if ARGV[19] == '+inf' then c.hi = nil end
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
