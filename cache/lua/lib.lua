-- lib.lua: the helpers every index script shares, prepended to it (see scripts.go). It
-- takes no KEYS or ARGV of its own. An index is named by its plain key and the tenant
-- base "<p>:{<tag>}:" it starts with: the directory, chunks and count hash are derived
-- from them and carry the same hash tag, so every script stays in one slot. The layout
-- is described in keys.go.
--
-- The values in double braces are Go constants, filled in once when the package loads
-- (luaConstants in scripts.go), so that Go and Lua never spell them twice.
--
-- String comparisons on binary members are avoided (Lua compares with strcoll): entries
-- are compared as numbers (score, then id).

-- IX_MAX is how many entries writes put in a plain index or a chunk (chunkSize).
local IX_MAX = {{.ChunkSize}}

-- IX_BOUND is the width of a directory member's bound (ix_enc); the chunk's number
-- follows it (boundWidth).
local IX_BOUND = {{.BoundWidth}}

local floor, char = math.floor, string.char

-- member_of encodes an id as an index member: 4 bytes, big-endian (Go: member). An id
-- outside 0 .. 2^32-1 (a window bound) is clamped into range.
local function member_of(id)
  if id < 0 then id = 0 end
  if id > 4294967295 then id = 4294967295 end
  return char(floor(id / 16777216) % 256, floor(id / 65536) % 256, floor(id / 256) % 256, id % 256)
end

-- id_of decodes an index member (Go: idOf).
local function id_of(m)
  local a, b, c, d = string.byte(m, 1, 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- uvarint encodes a non-negative integer as encoding/binary's uvarint, as the binary
-- record form writes its id (record_bin.go).
local function uvarint(n)
  local t = {}
  while n >= 128 do
    t[#t + 1] = char(n % 128 + 128)
    n = floor(n / 128)
  end
  t[#t + 1] = char(n)
  return table.concat(t)
end

-- ix_enc is an entry as a directory bound: 8-byte big-endian score, then the 4-byte member.
local function ix_enc(s, m)
  local hi = floor(s / 4294967296)
  local lo = s - hi * 4294967296
  local a, b = floor(hi / 65536), hi % 65536
  local c, d = floor(lo / 65536), lo % 65536
  return char(floor(a / 256), a % 256, floor(b / 256), b % 256, floor(c / 256), c % 256, floor(d / 256), d % 256) .. m
end

-- ix_bound decodes a directory member's lower bound: score, id.
local function ix_bound(dm)
  local a, b, c, d, e, f, g, h = string.byte(dm, 1, 8)
  return ((((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f) * 256 + g) * 256 + h,
    id_of(string.sub(dm, 9, 12))
end

-- ix_less: is (s1, id1) before (s2, id2) in index order?
local function ix_less(s1, id1, s2, id2)
  return s1 < s2 or (s1 == s2 and id1 < id2)
end

-- ix_num reads a score range end ("-inf", "+inf", "(123" or "123") as a number; an
-- exclusive end reads as its inclusive value (callers filter exact bounds themselves).
local function ix_num(x)
  if x == '-inf' then return -math.huge end
  if x == '+inf' then return math.huge end
  if string.sub(x, 1, 1) == '(' then x = string.sub(x, 2) end
  return tonumber(x)
end

-- ix_open describes the index whose plain key is key, in the tenant whose keys start with base.
local function ix_open(base, key)
  local suffix = string.sub(key, #base + 1)
  local ix = {key = key, base = base, suffix = suffix, dir = base .. '{{.DirectoryInfix}}' .. suffix, cnt = base .. '{{.CountsName}}'}
  return ix
end

local function ix_chunked(ix)
  if ix.is_chunked == nil then
    ix.is_chunked = redis.call('EXISTS', ix.dir) == 1
  end
  return ix.is_chunked
end

local function ix_chunk(ix, dm)
  return ix.base .. '{{.ChunkInfix}}' .. string.sub(dm, IX_BOUND + 1) .. ':' .. ix.suffix
end

-- ix_locate returns the directory member of the chunk holding (or to hold) entry (s, m),
-- and true when the entry is below every chunk's bound (the first chunk is returned
-- then); nil when the index has no directory.
local function ix_locate(ix, s, m)
  local r = redis.call('ZREVRANGEBYLEX', ix.dir, '[' .. ix_enc(s, m) .. '\255', '-', 'LIMIT', '0', '1')
  if r[1] then return r[1], false end
  r = redis.call('ZRANGE', ix.dir, '0', '0')
  return r[1], true
end

-- ix_new_chunk starts a chunk with lower bound (s, m) holding entries (a ZADD argument list).
local function ix_new_chunk(ix, s, m, entries)
  local n = redis.call('HINCRBY', ix.cnt, '#' .. ix.suffix, '1')
  local dm = ix_enc(s, m) .. n
  redis.call('ZADD', ix.dir, '0', dm)
  local ck = ix_chunk(ix, dm)
  redis.call('ZADD', ck, unpack(entries))
  return ck
end

-- ix_rebuild rewrites an index from all its entries, whichever form they are in: one plain
-- sorted set when at most IX_MAX entries, else full chunks. It converts a plain index
-- past IX_MAX, and repairs a chunked one (oversized chunks, bounds, counts).
local function ix_rebuild(ix)
  local seen, list = {}, {}
  local function take(res)
    for i = 1, #res, 2 do
      local m = res[i]
      if #m == 4 and not seen[m] then
        seen[m] = true
        list[#list + 1] = {tonumber(res[i + 1]), id_of(m), m, res[i + 1]}
      end
    end
  end
  take(redis.call('ZRANGE', ix.key, '0', '-1', 'WITHSCORES'))
  local sorted = true
  for _, dm in ipairs(redis.call('ZRANGE', ix.dir, '0', '-1')) do
    local ck = ix_chunk(ix, dm)
    take(redis.call('ZRANGE', ck, '0', '-1', 'WITHSCORES'))
    redis.call('DEL', ck)
    sorted = false
  end
  if not sorted then
    table.sort(list, function(a, b) return ix_less(a[1], a[2], b[1], b[2]) end)
  end
  redis.call('DEL', ix.key, ix.dir)
  redis.call('HDEL', ix.cnt, ix.suffix, '#' .. ix.suffix)
  ix.is_chunked = #list > IX_MAX
  if #list == 0 then return end
  if #list <= IX_MAX then
    local args = {}
    for _, e in ipairs(list) do
      args[#args + 1] = e[4]
      args[#args + 1] = e[3]
    end
    redis.call('ZADD', ix.key, unpack(args))
    return
  end
  for from = 1, #list, IX_MAX do
    local args = {}
    for i = from, math.min(from + IX_MAX - 1, #list) do
      args[#args + 1] = list[i][4]
      args[#args + 1] = list[i][3]
    end
    ix_new_chunk(ix, list[from][1], list[from][3], args)
  end
  redis.call('HSET', ix.cnt, ix.suffix, #list)
end

-- ix_add inserts entry (s, m); s is the score as a decimal string. Writes cost a few
-- calls per index (creates touch about eight): the chunk lookup first (a chunked index is
-- the common case of a large tenant), the plain key's size only when there is no chunk.
local function ix_add(ix, sraw, m)
  local s = tonumber(sraw)
  -- Appends (creates come in creation order) belong to the last chunk: one look at it
  -- spares them the directory search.
  local dm = redis.call('ZRANGE', ix.dir, '-1', '-1')[1]
  if dm then
    local bs, bid = 0, 0
    if #dm > IX_BOUND then bs, bid = ix_bound(dm) end
    if #dm <= IX_BOUND or ix_less(s, id_of(m), bs, bid) then
      dm = redis.call('ZREVRANGEBYLEX', ix.dir, '[' .. ix_enc(s, m) .. '\255', '-', 'LIMIT', '0', '1')[1]
    end
  end
  local below = false
  if not dm then
    local n = redis.call('ZCARD', ix.key)
    if n == 0 then
      -- Empty, or chunked with the entry below every chunk: then the first chunk.
      dm = redis.call('ZRANGE', ix.dir, '0', '0')[1]
      below = true
    end
    if not dm then
      if redis.call('ZADD', ix.key, sraw, m) == 1 and n + 1 > IX_MAX then ix_rebuild(ix) end
      return
    end
  end
  local ck = ix_chunk(ix, dm)
  local size = redis.call('ZCARD', ck)
  if size < IX_MAX or redis.call('ZSCORE', ck, m) then
    if redis.call('ZADD', ck, sraw, m) == 1 then
      redis.call('HINCRBY', ix.cnt, ix.suffix, '1')
    end
    if below then
      -- The entry lowers the first chunk's bound.
      redis.call('ZREM', ix.dir, dm)
      redis.call('ZADD', ix.dir, '0', ix_enc(s, m) .. string.sub(dm, IX_BOUND + 1))
    end
    return
  end
  redis.call('HINCRBY', ix.cnt, ix.suffix, '1')
  local id = id_of(m)
  local last = redis.call('ZRANGE', ck, '-1', '-1', 'WITHSCORES')
  if below or ix_less(tonumber(last[2]), id_of(last[1]), s, id) then
    -- Below the first chunk or past this chunk's last entry (appends in creation order):
    -- a new chunk, leaving this one full.
    ix_new_chunk(ix, s, m, {sraw, m})
    return
  end
  -- Split the full chunk in halves, the upper half into a new chunk.
  local half = math.floor(size / 2)
  local upper = redis.call('ZRANGE', ck, half, -1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', ck, half, -1)
  local args = {}
  for i = 1, #upper, 2 do
    args[#args + 1] = upper[i + 1]
    args[#args + 1] = upper[i]
  end
  local us = tonumber(upper[2])
  local nk = ix_new_chunk(ix, us, upper[1], args)
  if ix_less(s, id, us, id_of(upper[1])) then
    redis.call('ZADD', ck, sraw, m)
  else
    redis.call('ZADD', nk, sraw, m)
  end
end

-- ix_rem removes entry (s, m); s is the score the entry was written with. A chunked
-- index that shrinks to half the limit becomes plain again.
local function ix_rem(ix, sraw, m)
  local dm = redis.call('ZREVRANGEBYLEX', ix.dir, '[' .. ix_enc(tonumber(sraw), m) .. '\255', '-', 'LIMIT', '0', '1')[1]
  if not dm then
    -- Plain (an entry below every chunk does not exist).
    if redis.call('ZREM', ix.key, m) == 1 and redis.call('ZCARD', ix.key) > IX_MAX then
      ix_rebuild(ix)
    end
    return
  end
  local ck = ix_chunk(ix, dm)
  if redis.call('ZREM', ck, m) == 1 then
    local n = redis.call('HINCRBY', ix.cnt, ix.suffix, '-1')
    if redis.call('EXISTS', ck) == 0 then
      redis.call('ZREM', ix.dir, dm)
    end
    if n <= IX_MAX / 2 then
      -- Small again: back to one plain sorted set (at half the limit, so that an index
      -- around the limit does not switch forms on every write).
      ix_rebuild(ix)
    end
  end
end

-- ix_size is the number of entries.
local function ix_size(ix)
  if ix_chunked(ix) then
    return tonumber(redis.call('HGET', ix.cnt, ix.suffix) or '0')
  end
  return redis.call('ZCARD', ix.key)
end

-- ix_has reports whether the index holds member m at score s.
local function ix_has(ix, s, m)
  local dm = redis.call('ZREVRANGEBYLEX', ix.dir, '[' .. ix_enc(s, m) .. '\255', '-', 'LIMIT', '0', '1')[1]
  if dm then
    return redis.call('ZSCORE', ix_chunk(ix, dm), m) ~= false
  end
  -- Plain, or below every chunk (then the plain key does not exist).
  return redis.call('ZSCORE', ix.key, m) ~= false
end

-- ix_walk_plain calls visit(s, m) for the entries of a plain index within score range
-- [lo, hi] (strings, "-inf"/"+inf" for none), walking down when top, in batches that resume
-- at the last score seen, until visit returns false.
local function ix_walk_plain(ix, top, lo, hi, batch, visit)
  local offset = 0
  while true do
    local res
    if top then
      res = redis.call('ZREVRANGEBYSCORE', ix.key, hi, lo, 'WITHSCORES', 'LIMIT', offset, batch)
    else
      res = redis.call('ZRANGEBYSCORE', ix.key, lo, hi, 'WITHSCORES', 'LIMIT', offset, batch)
    end
    local last, lastS, tie = nil, nil, 0
    for i = 1, #res, 2 do
      local m, raw = res[i], res[i + 1]
      local s = tonumber(raw)
      if not visit(s, m, raw) then return end
      if s == lastS then tie = tie + 1 else lastS, last, tie = s, raw, 1 end
    end
    if #res < 2 * batch then return end
    local bound = lo
    if top then bound = hi end
    if tonumber(bound) == lastS then
      offset = offset + tie
    else
      offset = tie
    end
    if top then hi = last else lo = last end
  end
end

-- ix_walk calls visit(s, m, raw score) for the entries in score range [lo, hi] (strings) in index
-- order (from the highest down when top), until visit returns false. from, when set, is
-- an entry {score, member} where the walk may start (the window's bound in walking
-- direction), so that it finds its first chunk in O(log N). A chunked index is walked
-- chunk by chunk, each read in batches of batch entries; a plain one in batches of batch.
local function ix_walk(ix, top, lo, hi, from, batch, visit)
  if not ix_chunked(ix) then
    return ix_walk_plain(ix, top, lo, hi, batch, visit)
  end
  local flo, fhi = ix_num(lo), ix_num(hi)
  local dm
  if from then
    dm = ix_locate(ix, from[1], from[2])
  elseif top then
    dm = redis.call('ZRANGE', ix.dir, '-1', '-1')[1]
  else
    dm = redis.call('ZRANGE', ix.dir, '0', '0')[1]
  end
  while dm do
    -- The chunk in batches: a page usually needs a part of one chunk or two.
    local ck = ix_chunk(ix, dm)
    local offset = 0
    while true do
      local res
      if top then
        res = redis.call('ZREVRANGEBYSCORE', ck, hi, lo, 'WITHSCORES', 'LIMIT', offset, batch)
      else
        res = redis.call('ZRANGEBYSCORE', ck, lo, hi, 'WITHSCORES', 'LIMIT', offset, batch)
      end
      for i = 1, #res, 2 do
        if not visit(tonumber(res[i + 1]), res[i], res[i + 1]) then return end
      end
      if #res < 2 * batch then break end
      offset = offset + batch
    end
    local bs = ix_bound(dm)
    if top then
      -- Earlier chunks hold entries below this chunk's bound.
      if bs < flo then return end
      dm = redis.call('ZREVRANGEBYLEX', ix.dir, '(' .. dm, '-', 'LIMIT', '0', '1')[1]
    else
      dm = redis.call('ZRANGEBYLEX', ix.dir, '(' .. dm, '+', 'LIMIT', '0', '1')[1]
      if dm and ix_bound(dm) > fhi then return end
    end
  end
end

-- IX_CHUNK_COST is what counting one chunk whole is charged against a page call's work
-- budget (chunkCountCost).
local IX_CHUNK_COST = {{.ChunkCountCost}}

-- ix_count counts the entries with scores in [lo, hi] (strings), spending at most allow
-- units of work (IX_CHUNK_COST a chunk; the whole index and a plain one cost nothing
-- more than a constant). It returns the count, the units spent, and whether the count is
-- complete: when it is not, the count is a lower bound.
local function ix_count(ix, lo, hi, allow)
  if lo == '-inf' and hi == '+inf' then return ix_size(ix), 0, true end
  if not ix_chunked(ix) then return redis.call('ZCOUNT', ix.key, lo, hi), 0, true end
  local n, used = 0, 0
  local flo, fhi = ix_num(lo), ix_num(hi)
  local dm
  if flo > -math.huge then
    dm = ix_locate(ix, flo, '\0\0\0\0')
  else
    dm = redis.call('ZRANGE', ix.dir, '0', '0')[1]
  end
  while dm do
    if used + IX_CHUNK_COST > allow then return n, used, false end
    used = used + IX_CHUNK_COST
    n = n + redis.call('ZCOUNT', ix_chunk(ix, dm), lo, hi)
    dm = redis.call('ZRANGEBYLEX', ix.dir, '(' .. dm, '+', 'LIMIT', '0', '1')[1]
    if dm and ix_bound(dm) > fhi then break end
  end
  return n, used, true
end

-- id_less: is stream id a before stream id b? Both "<ms>-<seq>"; milliseconds fit a Lua
-- number exactly, sequences in practice too.
local function id_less(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  return ams < bms or (ams == bms and tonumber(aseq) < tonumber(bseq))
end

-- LOG_TRIM_STEP bounds how many entries one trim removes for the length cap, so that a
-- lowered EVENT_LOG_MAX_LENGTH shrinks a long log over several writes instead of in one.
local LOG_TRIM_STEP = 1000

-- log_trim trims a tenant's log (keys.eventLog) to the entries at or after min_id ("" =
-- no age limit) and to the newest max entries (0 = no cap), and records in cut
-- (keys.eventLogCut) the newest id it removed. Entries leave oldest first, so every id
-- after the one in cut is still in the log: a reader resuming after an id at or past it
-- has missed nothing, and one before it has (EVENTS_TRIMMED), whatever the instances'
-- clocks and settings. It returns how many entries it removed.
local function log_trim(log, cut, min_id, max)
  local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if not first then return 0 end
  local removed, last = 0, nil
  if min_id ~= '' and id_less(first[1], min_id) then
    last = redis.call('XREVRANGE', log, '(' .. min_id, '-', 'COUNT', 1)[1][1]
    removed = redis.call('XTRIM', log, 'MINID', min_id)
  end
  if max > 0 then
    local len = redis.call('XLEN', log)
    local over = math.min(len - max, LOG_TRIM_STEP)
    if over > 0 then
      local gone = redis.call('XRANGE', log, '-', '+', 'COUNT', over)
      last = gone[#gone][1]
      removed = removed + redis.call('XTRIM', log, 'MAXLEN', len - over)
    end
  end
  if last then
    redis.call('SET', cut, last)
  end
  return removed
end

-- log_event appends an event to the tenant's log (a stream; keys.eventLog): its header
-- (field e) and, unless it is a delete, the record as stored (field r, the same bytes as
-- the record key: no second encoding to keep in step) and returns the entry's id, which
-- orders the tenant's events and is what clients resume after. The id is "<at>-<n>", at
-- being the write's time in milliseconds (the event's occurredAt), unless the log already
-- holds a later id (instances' clocks differ): then Redis picks the next id after it.
-- Scripts call it before changing anything, so that a failure here (a key of the wrong
-- type, Redis out of memory) leaves no change without its event; Redis does not undo a
-- script's earlier writes when a later command fails. It then trims the log (log_trim):
-- each entry is removed once, so an append costs O(1) amortized; the retention sweep
-- trims logs of tenants that stopped writing.
local function log_event(log, cut, min_id, max, at, header, rec)
  local fields = {'e', header}
  if rec ~= '' then
    fields[3], fields[4] = 'r', rec
  end
  local id = redis.pcall('XADD', log, at .. '-*', unpack(fields))
  if type(id) == 'table' and id.err then
    id = redis.call('XADD', log, '*', unpack(fields))
  end
  log_trim(log, cut, min_id, max)
  return id
end
