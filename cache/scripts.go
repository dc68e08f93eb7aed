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
//	ARGV[21]       the work budget: most units of work the call may spend (see below)
//
// A chunked index is walked chunk by chunk from the chunk holding the window's bound in
// walking direction (found with one ZREVRANGEBYLEX on its directory), so a page costs
// O(log N + page) in either form.
//
// Work budget. Combined filters that rarely match together would otherwise make a page,
// and above all a count, walk a whole index while Redis serves nobody else. Every entry
// of the walked index that lies in a window costs one unit, and every membership look-up
// in another index one more; counting one chunk whole costs IX_CHUNK_COST. The call
// spends at most ARGV[21] units in all (entries outside a window, which only share the
// bound's millisecond, are skipped uncharged). The page walk may use all of it less a
// reserve for what else was asked (an eighth for the second window, half for a count
// that has to walk), and leaves what it does not use to them. When a walk stops for the
// budget it says so, with the last entry it examined in full, so that the caller can
// continue from there: every entry up to it has been decided.
//
// It returns {more, other, count, examined, cut, last ms, last id, exact, record...}: more
// is 1 when the page window holds more than limit entries or its walk stopped for the
// budget (cut is 1 then, and last ms/id name the last entry it examined, or are -1); other
// is 1/0 for the second window (1 also when its walk stopped for the budget; -1 when not
// asked); count is the number of entries in the counted range (-1 when not asked), exact
// 0 when the budget ran out first (count is then the matches found so far); examined is
// the units spent.
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
local budget = tonumber(ARGV[21])
local examined = 0
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

-- walk calls visit(id) for every entry of the window that is in every index, in the
-- window's order, until visit returns false or the walk would spend more than allow
-- units. It returns whether it stopped for the budget, and the score and id of the last
-- entry it examined in full (nil when none).
local function walk(w, batch, allow, visit)
  local lo, hi = '-inf', '+inf'
  if w.lo then lo = w.lo[4] end
  if w.hi then hi = w.hi[4] end
  local from = nil
  local b = w.lo
  if w.top then b = w.hi end
  if b then from = {b[1], member_of(b[2])} end
  -- No need to read far past what the budget lets the walk examine.
  batch = math.max(1, math.min(batch, allow + 1))
  local used, cut, ls, lid = 0, false, nil, nil
  ix_walk(ixs[1], w.top, lo, hi, from, batch, function(s, m)
    local id = ix_id(m)
    if not within(w, s, id) then return true end
    -- Only an entry that can be examined in full (its look-ups in every other index)
    -- is taken, so that every entry up to the last one examined is decided.
    if used + #ixs > allow then
      cut = true
      return false
    end
    used = used + 1
    local hit = true
    for i = 2, #ixs do
      used = used + 1
      if not ix_has(ixs[i], s, m) then
        hit = false
        break
      end
    end
    ls, lid = s, id
    if hit then return visit(id) end
    return true
  end)
  examined = examined + used
  return cut, ls, lid
end

local function batch_for(limit)
  if #ixs > 1 then return math.max(limit + 2, 64) end
  return limit + 2
end

-- What the page walk leaves for the other parts: a count that walks (combined filters,
-- or a createdAt range over a chunked index) and the second window.
local count_reserve = 0
if ARGV[18] ~= '' and (#ixs > 1 or ((ARGV[18] ~= '-inf' or ARGV[19] ~= '+inf') and ix_chunked(ixs[1]))) then
  count_reserve = math.floor(budget / 2)
end
local o = window(10)
local other_reserve = 0
if o then other_reserve = math.floor(budget / 8) end

local page = {}
local more = 0
local w = window(2)
local cut, last_s, last_id = walk(w, batch_for(w.limit + 1), math.max(budget - count_reserve - other_reserve, #ixs), function(id)
  if #page >= w.limit then
    more = 1
    return false
  end
  page[#page + 1] = id
  return true
end)
if cut then more = 1 end

local other = -1
if o then
  other = 0
  local ocut = walk(o, batch_for(1), math.max(budget - examined - count_reserve, 0), function(id)
    other = 1
    return false
  end)
  if ocut then other = 1 end
end

local count, exact = -1, 1
if ARGV[18] ~= '' then
  local allow = math.max(budget - examined, 0)
  if #ixs == 1 then
    local used, complete
    count, used, complete = ix_count(ixs[1], ARGV[18], ARGV[19], allow)
    examined = examined + used
    if not complete then exact = 0 end
  else
    count = 0
    local c = {top = false, limit = 0,
      lo = {tonumber(ARGV[18]) or -math.huge, 0, true, ARGV[18]},
      hi = {tonumber(ARGV[19]) or math.huge, math.huge, true, ARGV[19]}}
    if ARGV[18] == '-inf' then c.lo = nil end
    if ARGV[19] == '+inf' then c.hi = nil end
    if walk(c, 256, allow, function(id)
      count = count + 1
      return true
    end) then
      exact = 0
    end
  end
end

local out = {more, other, count, examined, cut and 1 or 0, last_s or -1, last_id or -1, exact}
for i = 1, #page do
  local rec = redis.call('GET', ARGV[1] .. tostring(page[i]))
  if rec then out[#out + 1] = rec end
end
return out
`)
