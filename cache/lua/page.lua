-- page.lua reads one page of a tenant's sessions in one round trip. Go: pageCall (page.go).
--
--   KEYS[1 .. n-1]  the indexes to intersect (their plain keys, see keys.go)
--   KEYS[n]         the tenant's guard key (keys.guard), only declared
--   ARGV[1]         record key prefix (the id is appended)
--   ARGV[2 .. 9]    the page window (below)
--   ARGV[10 .. 17]  a second window, only tested for being non-empty
--   ARGV[18 .. 19]  score range to count ("" = do not count)
--   ARGV[20]        tenant base (every index key starts with it)
--   ARGV[21]        the work budget: most units of work the call may spend (see below)
--
-- A window is a range of the walk in index order (createdAt, then id) plus a direction,
-- in eight arguments:
--
--   take           "top" walks from the highest entry down, "bottom" from the lowest up;
--                  "" = no window
--   limit
--   lower bound    score ("" = none), id, inclusive ("1"/"0")
--   upper bound    score ("" = none), id, inclusive
--
-- The indexes are intersected: the smallest one is walked, membership in the others
-- checked by the walked entry's score (createdAt in every creation index), so a page
-- filtered on one field walks only that field's index. A chunked index is walked chunk
-- by chunk from the chunk holding the window's bound in walking direction (found with
-- one ZREVRANGEBYLEX on its directory), so a page costs O(log N + page) in either form.
--
-- Work budget. Combined filters that rarely match together would otherwise make a page,
-- and above all a count, walk a whole index while Redis serves nobody else. Every entry
-- of the walked index that lies in a window costs one unit, and every membership look-up
-- in another index one more; counting one chunk whole costs IX_CHUNK_COST. The call
-- spends at most the budget in all (entries outside a window, which only share the
-- bound's millisecond, are skipped uncharged). The page walk may use all of it less a
-- reserve for what else was asked (an eighth for the second window, half for a count
-- that has to walk), and leaves what it does not use to them. When a walk stops for the
-- budget it says so, with the last entry it examined in full, so that the caller can
-- continue from there: every entry up to it has been decided.
--
-- It returns {more, other, count, examined, cut, last ms, last id, exact, record...}: more
-- is 1 when the page window holds more than limit entries or its walk stopped for the
-- budget (cut is 1 then, and last ms/id name the last entry it examined, or are -1); other
-- is 1/0 for the second window (1 also when its walk stopped for the budget; -1 when not
-- asked); count is the number of entries in the counted range (-1 when not asked), exact
-- 0 when the budget ran out first (count is then the matches found so far); examined is
-- the units spent.

-- read_window reads the window whose eight arguments start at ARGV[i]; nil when none.
local function read_window(i)
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

local record_prefix = ARGV[1]
local page_window = read_window(2)
local other_window = read_window(10)
local count_min, count_max = ARGV[18], ARGV[19]
local base = ARGV[20]
local budget = tonumber(ARGV[21])

-- within reports whether entry (s, id) lies between window w's bounds.
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

-- The indexes, the smallest first: it is the one walked.
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
    local id = id_of(m)
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
if count_min ~= '' and (#ixs > 1 or ix_shared(ixs[1]) or ((count_min ~= '-inf' or count_max ~= '+inf') and ix_chunked(ixs[1]))) then
  count_reserve = math.floor(budget / 2)
end
local other_reserve = 0
if other_window then other_reserve = math.floor(budget / 8) end

local page = {}
local more = 0
local cut, last_s, last_id = walk(page_window, batch_for(page_window.limit + 1), math.max(budget - count_reserve - other_reserve, #ixs), function(id)
  if #page >= page_window.limit then
    more = 1
    return false
  end
  page[#page + 1] = id
  return true
end)
if cut then more = 1 end

local other = -1
if other_window then
  other = 0
  local ocut = walk(other_window, batch_for(1), math.max(budget - examined - count_reserve, 0), function(id)
    other = 1
    return false
  end)
  if ocut then other = 1 end
end

local count, exact = -1, 1
if count_min ~= '' then
  local allow = math.max(budget - examined, 0)
  if #ixs == 1 then
    local used, complete
    count, used, complete = ix_count(ixs[1], count_min, count_max, allow)
    examined = examined + used
    if not complete then exact = 0 end
  else
    count = 0
    local c = {top = false, limit = 0,
      lo = {tonumber(count_min) or -math.huge, 0, true, count_min},
      hi = {tonumber(count_max) or math.huge, math.huge, true, count_max}}
    if count_min == '-inf' then c.lo = nil end
    if count_max == '+inf' then c.hi = nil end
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
  local rec = redis.call('GET', record_prefix .. tostring(page[i]))
  if rec then out[#out + 1] = rec end
end
return out
