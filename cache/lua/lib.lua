-- lib.lua: the helpers every index script shares, prepended to it (see scripts.go). It
-- takes no KEYS or ARGV of its own. An index is named by its plain key and the tenant
-- base "<p>:{<tag>}:" it starts with: the directory, chunks and count hash are derived
-- from them and carry the same hash tag, so every script stays in one slot. The layout
-- is described in keys.go. The index of an owner or account value ("ix:o:<value>",
-- "ix:a:<value>") is read and written through the same functions (ix_add, ix_rem,
-- ix_walk, ix_has, ix_count, ix_size), which find its entries in keys of its own or, when
-- it has none, in its range of the tenant's value-ordered index (lx_* and vx_* below).
--
-- The values in double braces are Go constants, filled in once when the package loads
-- (luaConstants in scripts.go), so that Go and Lua never spell them twice.
--
-- String comparisons on binary members are avoided (Lua compares with strcoll): entries
-- are compared as numbers (score, then id), value-ordered entries by Redis (lex ranges)
-- or for equality.

-- IX_MAX is how many entries writes put in a plain index or a chunk (chunkSize).
local IX_MAX = {{.ChunkSize}}

-- IX_BOUND is the width of a directory member's bound (ix_enc); the chunk's number
-- follows it (boundWidth).
local IX_BOUND = {{.BoundWidth}}

local floor, char = math.floor, string.char

-- IX_CHUNK_COST is what counting one chunk whole is charged against a page call's work
-- budget (chunkCountCost).
local IX_CHUNK_COST = {{.ChunkCountCost}}

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

-- The value-ordered index (keys.go): VX_INFIX names it after the tenant base, followed by
-- the field's kind, one of the letters of VX_KINDS (valueKinds).
local VX_INFIX, VX_KINDS = '{{.ValueInfix}}', '{{.ValueKinds}}'

-- VX_SHARED: whether a value not yet indexed starts in the value-ordered index (else in
-- a key of its own, as versions before it wrote). The scripts that write set it from
-- their layout argument (Options.PerValueIndexes).
local VX_SHARED = true

-- VX_WIDTH is the width of an entry after its value's prefix: createdAt in 6 bytes, then
-- the 4-byte member (valueEntryWidth); VX_MAX_SCORE the largest createdAt it holds (the
-- year 10889). LX_MAX is how many entries writes put in one chunk of a value-ordered
-- index (valueChunkSize).
local VX_WIDTH, VX_MAX_SCORE, LX_MAX = {{.ValueEntryWidth}}, 281474976710655, {{.ValueChunkSize}}

-- VX_TOP is above every entry's bytes after a value's prefix.
local VX_TOP = string.rep('\255', VX_WIDTH + 1)

-- vx_prefix is what every entry of value v in a value-ordered index starts with (Go:
-- valuePrefix): v with each byte 0x00 written as 0x01 0x01 and each 0x01 as 0x01 0x02,
-- then a NUL, its only one. No other value's entries start with it, so each value's
-- entries are one range.
local VX_ESCAPES = {['\0'] = '\1\1', ['\1'] = '\1\2'}
local function vx_prefix(v)
  return (string.gsub(v, '[%z\1]', VX_ESCAPES)) .. '\0'
end

-- ix_open describes the index whose plain key is key, in the tenant whose keys start with base.
-- An index of a value-ordered field ("ix:o:<value>", "ix:a:<value>") also gets vx: where
-- its entries are when it has no key of its own (the tenant's value-ordered index of that
-- field, lx, and the value's prefix there, p; see keys.go). The value-ordered index itself
-- ("vx:<field>") is opened with lx set.
local function ix_open(base, key)
  local suffix = string.sub(key, #base + 1)
  local ix = {key = key, base = base, suffix = suffix, dir = base .. '{{.DirectoryInfix}}' .. suffix, cnt = base .. '{{.CountsName}}'}
  local kind = string.sub(suffix, 4, 4)
  if string.sub(suffix, 1, 3) == 'ix:' and string.sub(suffix, 5, 5) == ':' and string.find(VX_KINDS, kind, 1, true) then
    ix.vx = {lx = {base = base, suffix = VX_INFIX .. kind, dir = base .. '{{.DirectoryInfix}}' .. VX_INFIX .. kind, cnt = ix.cnt},
      p = vx_prefix(string.sub(suffix, 6))}
  elseif string.sub(suffix, 1, #VX_INFIX) == VX_INFIX then
    ix.lx = true
  end
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

-- The value-ordered index of a field (lx, see keys.go) is always chunked: a directory
-- (all scores 0, ordered by member) of chunk lower bounds, each an entry followed by the
-- chunk's number in decimal, and chunks of entries, all scores 0, ordered by member. An
-- entry is <value prefix (vx_prefix)><vx_entry's 6-byte createdAt and 4-byte id>, so a value's entries are
-- one range, in creation order. Entries and bounds are compared by Redis (lex ranges), or
-- split into prefix (compared for equality) and score, never with Lua's string order.

-- lx_num is the chunk number of directory member dm: what follows the bound, whose
-- prefix ends at the first NUL.
local function lx_num(dm)
  local t = string.find(dm, '\0', 1, true)
  if not t then return '' end
  return string.sub(dm, t + 1 + VX_WIDTH)
end

local function lx_chunk(L, dm)
  return L.base .. '{{.ChunkInfix}}' .. lx_num(dm) .. ':' .. L.suffix
end

-- lx_locate returns the directory member of the chunk holding (or to hold) entry e, and
-- true when e is below every chunk (the first chunk is returned then); nil when empty.
-- e must be entry-shaped (a prefix and VX_WIDTH bytes): no entry-shaped string is a proper
-- prefix of another, so dm <= e .. 0xFF exactly when dm's bound <= e.
local function lx_locate(L, e)
  local r = redis.call('ZREVRANGEBYLEX', L.dir, '[' .. e .. '\255', '-', 'LIMIT', '0', '1')
  if r[1] then return r[1], false end
  r = redis.call('ZRANGE', L.dir, '0', '0')
  return r[1], true
end

local function lx_new_chunk(L, bound, members)
  local n = redis.call('HINCRBY', L.cnt, '#' .. L.suffix, '1')
  redis.call('ZADD', L.dir, '0', bound .. n)
  local args = {}
  for i = 1, #members do
    args[2 * i - 1] = '0'
    args[2 * i] = members[i]
  end
  local ck = lx_chunk(L, bound .. n)
  redis.call('ZADD', ck, unpack(args))
  return ck
end

-- lx_add inserts entry e; it returns the key of the chunk that holds it and that chunk's
-- size, or nil when e was there already. A chunk past LX_MAX is split: an entry past the
-- chunk's last one starts a chunk of its own, else the chunk splits in halves.
local function lx_add(L, e)
  local dm, below = lx_locate(L, e)
  if not dm then
    return lx_new_chunk(L, e, {e}), 1
  end
  local ck = lx_chunk(L, dm)
  if redis.call('ZADD', ck, '0', e) == 0 then return nil end
  if below then
    -- The entry lowers the first chunk's bound.
    redis.call('ZREM', L.dir, dm)
    dm = e .. lx_num(dm)
    redis.call('ZADD', L.dir, '0', dm)
  end
  local size = redis.call('ZCARD', ck)
  if size <= LX_MAX then return ck, size end
  if not below and redis.call('ZRANGE', ck, '-1', '-1')[1] == e then
    redis.call('ZREM', ck, e)
    return lx_new_chunk(L, e, {e}), 1
  end
  local half = math.floor(size / 2)
  local upper = redis.call('ZRANGE', ck, half, -1)
  redis.call('ZREMRANGEBYRANK', ck, half, -1)
  local nk = lx_new_chunk(L, upper[1], upper)
  if redis.call('ZSCORE', ck, e) then return ck, half end
  return nk, #upper
end

-- lx_rem removes entry e; it returns whether it was there. An emptied chunk goes with its
-- directory member, the chunk number sequence with the last chunk.
local function lx_rem(L, e)
  local dm = redis.call('ZREVRANGEBYLEX', L.dir, '[' .. e .. '\255', '-', 'LIMIT', '0', '1')[1]
  if not dm then return false end
  local ck = lx_chunk(L, dm)
  if redis.call('ZREM', ck, e) == 0 then return false end
  local first = redis.call('ZRANGE', ck, '0', '0')[1]
  if not first then
    redis.call('ZREM', L.dir, dm)
    if redis.call('EXISTS', L.dir) == 0 then
      redis.call('HDEL', L.cnt, '#' .. L.suffix)
    end
  elseif string.sub(dm, 1, #e) == e then
    -- The bound was the entry removed: raise it to the chunk's first entry, so that a
    -- create and its delete leave the directory as it was.
    redis.call('ZREM', L.dir, dm)
    redis.call('ZADD', L.dir, '0', first .. lx_num(dm))
  end
  return true
end

-- lx_rebuild rewrites a value-ordered index from all its entries into full chunks (for
-- verify -repair): Redis sorts them, in a scratch key of the tenant.
local function lx_rebuild(L)
  local tmp = L.base .. '{{.ChunkInfix}}rebuild:' .. L.suffix
  redis.call('DEL', tmp)
  for _, dm in ipairs(redis.call('ZRANGE', L.dir, '0', '-1')) do
    local ck = lx_chunk(L, dm)
    local ms = redis.call('ZRANGE', ck, '0', '-1')
    for from = 1, #ms, 256 do
      local args = {}
      for i = from, math.min(from + 255, #ms) do
        local t = string.find(ms[i], '\0', 1, true)
        if t and #ms[i] == t + VX_WIDTH then
          args[#args + 1] = '0'
          args[#args + 1] = ms[i]
        end
      end
      if #args > 0 then redis.call('ZADD', tmp, unpack(args)) end
    end
    redis.call('DEL', ck)
  end
  redis.call('DEL', L.dir)
  redis.call('HDEL', L.cnt, '#' .. L.suffix)
  local n = redis.call('ZCARD', tmp)
  for from = 0, n - 1, LX_MAX do
    local ms = redis.call('ZRANGE', tmp, from, from + LX_MAX - 1)
    lx_new_chunk(L, ms[1], ms)
  end
  redis.call('DEL', tmp)
end

-- A value's view of a value-ordered index (ix.vx: lx and the value's prefix p) reads
-- like an index of its own: entries in creation order, scores decoded from the entries.

-- vx_entry is the entry of (score, member m) in value view V.
local function vx_entry(V, s, m)
  if s > VX_MAX_SCORE then s = VX_MAX_SCORE end
  local hi = floor(s / 4294967296)
  local lo = s - hi * 4294967296
  local c, d = floor(lo / 65536), lo % 65536
  return V.p .. char(floor(hi / 256), hi % 256, floor(c / 256), c % 256, floor(d / 256), d % 256) .. m
end

-- vx_split decodes an entry (or a directory member's bound) of view V: its score and
-- member, or nil when it is another value's.
local function vx_split(V, e)
  if string.sub(e, 1, #V.p) ~= V.p then return nil end
  local a, b, c, d, f, g = string.byte(e, #V.p + 1, #V.p + 6)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + f) * 256 + g,
    string.sub(e, #V.p + 7, #V.p + 10)
end

-- vx_range turns a score range [lo, hi] (strings as ix_walk takes them) into the lex
-- range of the value's entries, and the numeric ends.
local function vx_range(V, lo, hi)
  local flo, fhi = ix_num(lo), ix_num(hi)
  local elo, ehi = V.p .. string.rep('\0', VX_WIDTH), V.p .. VX_TOP
  if flo > 0 then elo = vx_entry(V, flo, '\0\0\0\0') end
  if fhi < 0 then
    ehi = V.p -- below every entry: an empty range
  elseif fhi < VX_MAX_SCORE then
    ehi = vx_entry(V, fhi, '\255\255\255\255')
  end
  return elo, ehi, flo, fhi
end

-- vx_count counts the value's entries with scores in [lo, hi], at IX_CHUNK_COST a chunk,
-- spending at most allow units: count, units spent, complete (as ix_count).
local function vx_count(V, lo, hi, allow)
  local elo, ehi, _, fhi = vx_range(V, lo, hi)
  local dm = lx_locate(V.lx, elo)
  local n, used = 0, 0
  while dm do
    if used + IX_CHUNK_COST > allow then return n, used, false end
    used = used + IX_CHUNK_COST
    n = n + redis.call('ZLEXCOUNT', lx_chunk(V.lx, dm), '[' .. elo, '[' .. ehi)
    dm = redis.call('ZRANGEBYLEX', V.lx.dir, '(' .. dm, '+', 'LIMIT', '0', '1')[1]
    if dm then
      local bs = vx_split(V, dm)
      if not bs or bs > fhi then break end
    end
  end
  return n, used, true
end

-- vx_has reports whether the value holds member m at score s.
local function vx_has(V, s, m)
  local e = vx_entry(V, s, m)
  local dm = redis.call('ZREVRANGEBYLEX', V.lx.dir, '[' .. e .. '\255', '-', 'LIMIT', '0', '1')[1]
  return dm ~= nil and redis.call('ZSCORE', lx_chunk(V.lx, dm), e) ~= false
end

-- vx_walk is ix_walk over the value's entries.
local function vx_walk(V, top, lo, hi, from, batch, visit)
  local elo, ehi, flo, fhi = vx_range(V, lo, hi)
  local dm
  if from then
    dm = lx_locate(V.lx, vx_entry(V, from[1], from[2]))
  elseif top then
    dm = lx_locate(V.lx, ehi)
  else
    dm = lx_locate(V.lx, elo)
  end
  while dm do
    local ck = lx_chunk(V.lx, dm)
    local offset = 0
    while true do
      local res
      if top then
        res = redis.call('ZREVRANGEBYLEX', ck, '[' .. ehi, '[' .. elo, 'LIMIT', offset, batch)
      else
        res = redis.call('ZRANGEBYLEX', ck, '[' .. elo, '[' .. ehi, 'LIMIT', offset, batch)
      end
      for i = 1, #res do
        local s, m = vx_split(V, res[i])
        if not visit(s, m, string.format('%d', s)) then return end
      end
      if #res < batch then break end
      offset = offset + batch
    end
    if top then
      -- Earlier chunks hold entries below this chunk's bound.
      local bs = vx_split(V, dm)
      if not bs or bs < flo then return end
      dm = redis.call('ZREVRANGEBYLEX', V.lx.dir, '(' .. dm, '-', 'LIMIT', '0', '1')[1]
    else
      dm = redis.call('ZRANGEBYLEX', V.lx.dir, '(' .. dm, '+', 'LIMIT', '0', '1')[1]
      if dm then
        local bs = vx_split(V, dm)
        if not bs or bs > fhi then return end
      end
    end
  end
end

-- ix_shared reports whether a value-ordered field's index is read from the value-ordered
-- index: when the value has no key of its own (plain or directory).
local function ix_shared(ix)
  if not ix.vx then return false end
  if ix.is_shared == nil then
    ix.is_shared = redis.call('EXISTS', ix.key, ix.dir) == 0
  end
  return ix.is_shared
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

-- own_add inserts entry (s, m) into the index's own keys; s is the score as a decimal string. Writes cost a few
-- calls per index (creates touch about eight): the chunk lookup first (a chunked index is
-- the common case of a large tenant), the plain key's size only when there is no chunk.
local function own_add(ix, sraw, m)
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
  -- Split the full chunk, the upper part into a new chunk: in halves, except in the last
  -- chunk, where the entries above the new one go. Creates from several instances (or
  -- one's concurrent requests) arrive nearly in creation order, a little behind the last
  -- entry: halves would leave each chunk half full for good.
  local half = math.floor(size / 2)
  if not redis.call('ZRANGEBYLEX', ix.dir, '(' .. dm, '+', 'LIMIT', '0', '1')[1] then
    local above = redis.call('ZCOUNT', ck, '(' .. sraw, '+inf')
    for _, tm in ipairs(redis.call('ZRANGEBYSCORE', ck, sraw, sraw)) do
      if id_of(tm) > id then above = above + 1 end
    end
    half = math.max(half, size - above)
  end
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

-- own_rem removes entry (s, m) from the index's own keys; s is the score the entry was written with. A chunked
-- index that shrinks to half the limit becomes plain again.
local function own_rem(ix, sraw, m)
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
  if ix_shared(ix) then return (vx_count(ix.vx, '-inf', '+inf', 8 * IX_CHUNK_COST)) end
  if ix_chunked(ix) then
    return tonumber(redis.call('HGET', ix.cnt, ix.suffix) or '0')
  end
  return redis.call('ZCARD', ix.key)
end

-- ix_has reports whether the index holds member m at score s.
local function ix_has(ix, s, m)
  if ix_shared(ix) then return vx_has(ix.vx, s, m) end
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
  if ix_shared(ix) then return vx_walk(ix.vx, top, lo, hi, from, batch, visit) end
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


-- ix_count counts the entries with scores in [lo, hi] (strings), spending at most allow
-- units of work (IX_CHUNK_COST a chunk; the whole index and a plain one cost nothing
-- more than a constant). It returns the count, the units spent, and whether the count is
-- complete: when it is not, the count is a lower bound.
local function ix_count(ix, lo, hi, allow)
  if ix_shared(ix) then return vx_count(ix.vx, lo, hi, allow) end
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

-- vx_demote moves a value's own plain index of at most IX_MAX entries into the
-- value-ordered index (Options.PerValueIndexes off): how data written before it, or by an
-- instance writing keys of their own, is converted by the first write that touches it.
local function vx_demote(ix)
  if not VX_SHARED or ix_shared(ix) or ix_chunked(ix) then return end
  local res = redis.call('ZRANGE', ix.key, '0', '-1', 'WITHSCORES')
  if #res > 2 * IX_MAX then return end
  for i = 1, #res, 2 do
    lx_add(ix.vx.lx, vx_entry(ix.vx, tonumber(res[i + 1]), res[i]))
  end
  redis.call('DEL', ix.key)
  ix.is_shared = true
end

-- vx_promote moves a value's entries out of the value-ordered index into keys of its
-- own (chunked: it has more than IX_MAX), so that counting and walking one value never
-- reads more than IX_MAX entries of the value-ordered index.
local function vx_promote(ix)
  local list = {}
  vx_walk(ix.vx, false, '-inf', '+inf', nil, 256, function(s, m, raw)
    list[#list + 1] = {s, m, raw}
    return true
  end)
  local args = {}
  for _, e in ipairs(list) do
    lx_rem(ix.vx.lx, vx_entry(ix.vx, e[1], e[2]))
    args[#args + 1] = e[3]
    args[#args + 1] = e[2]
  end
  for from = 1, #args, 256 do
    redis.call('ZADD', ix.key, unpack(args, from, math.min(from + 255, #args)))
  end
  ix.is_shared = false
  ix_rebuild(ix)
end

-- ix_add inserts entry (s, m); s is the score as a decimal string. A value-ordered
-- field's value stays in the value-ordered index up to IX_MAX entries, and moves to keys
-- of its own past them; one with keys of its own goes back once they hold at most
-- IX_MAX / 2 (own_rem turns them plain then), or right away when they are plain.
local function ix_add(ix, sraw, m)
  if not ix.vx then return own_add(ix, sraw, m) end
  if not ix_shared(ix) then
    own_add(ix, sraw, m)
    ix.is_chunked = nil
    return vx_demote(ix)
  end
  local V = ix.vx
  if not VX_SHARED and vx_count(V, '-inf', '+inf', math.huge) == 0 then
    ix.is_shared = false
    return own_add(ix, sraw, m)
  end
  local ck, size = lx_add(V.lx, vx_entry(V, tonumber(sraw), m))
  if not ck then return end
  -- Past IX_MAX entries the value moves to keys of its own. Its entries are one range:
  -- unless they reach an end of the new entry's chunk, they are all in it, at most as
  -- many as the chunk holds. So the whole value is counted only in that case (and the
  -- chunk's part when the chunk holds more than IX_MAX): a new customer's create reads
  -- the chunk's two ends, not the directory again.
  local p = V.p
  local n = size
  if string.sub(redis.call('ZRANGE', ck, '0', '0')[1], 1, #p) == p
    or string.sub(redis.call('ZRANGE', ck, '-1', '-1')[1], 1, #p) == p then
    n = vx_count(V, '-inf', '+inf', math.huge)
  elseif size > IX_MAX then
    n = redis.call('ZLEXCOUNT', ck, '[' .. p, '(' .. p .. VX_TOP)
  end
  if n > IX_MAX then vx_promote(ix) end
end

-- ix_rem removes entry (s, m); s is the score the entry was written with.
local function ix_rem(ix, sraw, m)
  if not ix.vx then return own_rem(ix, sraw, m) end
  if ix_shared(ix) then
    lx_rem(ix.vx.lx, vx_entry(ix.vx, tonumber(sraw), m))
    return
  end
  own_rem(ix, sraw, m)
  ix.is_chunked = nil
  vx_demote(ix)
end

-- ix_repair rewrites an index from its entries (verify -repair): ix_rebuild, or
-- lx_rebuild for a value-ordered index; a value's own keys may move into the
-- value-ordered index then.
local function ix_repair(ix)
  if ix.lx then
    return lx_rebuild({base = ix.base, suffix = ix.suffix, dir = ix.dir, cnt = ix.cnt})
  end
  if ix_shared(ix) then return end
  ix_rebuild(ix)
  ix.is_chunked = nil
  vx_demote(ix)
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
