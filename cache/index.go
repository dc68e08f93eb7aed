package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// chunkMax is the most entries an index sorted set may hold (a plain index, or one chunk
// of a chunked index): Redis keeps sorted sets of at most 128 entries (the default
// zset-max-listpack-entries) listpack-encoded, at about 16 bytes per entry instead of
// about 96 for a skiplist. verify reports a chunk past it.
const chunkMax = 128

// chunkSize is how many entries writes put in a plain index or a chunk (IX_MAX in the
// scripts): half of chunkMax, because inserting into a listpack-encoded sorted set scans
// it twice (for the member, then for the place), and creates insert into eight of them.
// Measured with callgrind on redis-server over 1,000 creates of the benchmark's shape:
// 700k instructions per create script at 128, 654k at 96, 606k at 64, for 668, 667 and
// 686 bytes of Redis memory per session. Chunks of up to chunkMax written by earlier
// versions stay valid: the next insert into a full one splits it.
const chunkSize = 64

// ixLua is the index layout as Lua, prepended to every script that touches an index (see
// keys for the layout). An index is named by its plain key (KEYS), and the tenant base
// "<p>:{<tag>}:" it starts with (ARGV): the directory, chunks and count hash are derived
// from them and carry the same hash tag, so every script stays in one slot.
//
// String comparisons on binary members are avoided (Lua compares with strcoll): entries
// are compared as numbers (score, then id).
const ixLua = `
local IX_MAX = 64

local function ix_id(m)
  local a, b, c, d = string.byte(m, 1, 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- ix_enc is an entry as a directory bound: 8-byte big-endian score, then the 4-byte member.
local floor, char = math.floor, string.char
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
    ix_id(string.sub(dm, 9, 12))
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
  local ix = {key = key, base = base, suffix = suffix, dir = base .. 'ixd:' .. suffix, cnt = base .. 'ixn'}
  return ix
end

local function ix_chunked(ix)
  if ix.is_chunked == nil then
    ix.is_chunked = redis.call('EXISTS', ix.dir) == 1
  end
  return ix.is_chunked
end

local function ix_chunk(ix, dm)
  return ix.base .. 'ixk:' .. string.sub(dm, 13) .. ':' .. ix.suffix
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
        list[#list + 1] = {tonumber(res[i + 1]), ix_id(m), m, res[i + 1]}
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
    if #dm >= 13 then bs, bid = ix_bound(dm) end
    if #dm < 13 or ix_less(s, ix_id(m), bs, bid) then
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
      redis.call('ZADD', ix.dir, '0', ix_enc(s, m) .. string.sub(dm, 13))
    end
    return
  end
  redis.call('HINCRBY', ix.cnt, ix.suffix, '1')
  local id = ix_id(m)
  local last = redis.call('ZRANGE', ck, '-1', '-1', 'WITHSCORES')
  if below or ix_less(tonumber(last[2]), ix_id(last[1]), s, id) then
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
  if ix_less(s, id, us, ix_id(upper[1])) then
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

-- IX_CHUNK_COST is what counting one chunk whole (a ZCOUNT and the directory step to the
-- next chunk) is charged against a page call's work budget, in entries examined: on
-- redis-server 7.0 it costs about as much Redis time as walking that many entries with
-- one membership look-up each (see bench/README.md, "Noisy neighbour").
local IX_CHUNK_COST = 2

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
`

// ixScript runs one index operation, for retention and verify/repair:
//
//	KEYS[1]   the index (its plain key)
//	KEYS[2]   the tenant's guard key (keys.guard)
//	ARGV[1]   tenant base
//	ARGV[2]   "add", "rem" (ARGV[3] score, ARGV[4] member), "rebuild", or "range" (the
//	          lowest ARGV[4] entries with score below ARGV[3], as member, score pairs)
var ixScript = redis.NewScript(ixLua + `
local ix = ix_open(ARGV[1], KEYS[1])
local op = ARGV[2]
if op == 'add' then
  ix_add(ix, ARGV[3], ARGV[4])
elseif op == 'rem' then
  ix_rem(ix, ARGV[3], ARGV[4])
elseif op == 'rebuild' then
  ix_rebuild(ix)
elseif op == 'range' then
  local out, n = {}, tonumber(ARGV[4])
  if n <= 0 then return out end
  ix_walk(ix, false, '-inf', '(' .. ARGV[3], nil, n, function(s, m, raw)
    out[#out + 1] = m
    out[#out + 1] = raw
    return #out < 2 * n
  end)
  return out
end
return 1
`)

func (s *Store) ixOp(ctx context.Context, t model.Tenant, key string, args ...any) *redis.Cmd {
	return ixScript.Run(ctx, s.rdb, []string{key, s.k.guard(t)}, append([]any{s.k.tenantBase(t)}, args...)...)
}

// ixAdd inserts (score, id) into an index, in whichever form it is.
func (s *Store) ixAdd(ctx context.Context, t model.Tenant, key string, score int64, id int) error {
	return storeErr("index add", s.ixOp(ctx, t, key, "add", score, member(id)).Err())
}

// ixRem removes (score, id) from an index.
func (s *Store) ixRem(ctx context.Context, t model.Tenant, key string, score int64, m string) error {
	return storeErr("index remove", s.ixOp(ctx, t, key, "rem", score, m).Err())
}

// ixRebuild rewrites an index from its entries (see ix_rebuild).
func (s *Store) ixRebuild(ctx context.Context, t model.Tenant, key string) error {
	return storeErr("index rebuild", s.ixOp(ctx, t, key, "rebuild").Err())
}

// ixEntry is one index entry.
type ixEntry struct {
	score int64
	m     string
}

// ixBelow returns the lowest n entries of an index scored below max.
func (s *Store) ixBelow(ctx context.Context, t model.Tenant, key string, max int64, n int) ([]ixEntry, error) {
	res, err := s.ixOp(ctx, t, key, "range", max, n).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr("index range", err)
	}
	out := make([]ixEntry, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		sc, _ := strconv.ParseInt(res[i+1], 10, 64)
		out = append(out, ixEntry{score: sc, m: res[i]})
	}
	return out, nil
}

// ixChunk is one chunk of a chunked index as read by ixRead.
type ixChunk struct {
	key     string
	dirm    string // its directory member
	lo      ixEntry
	missing bool
	entries []ixEntry
}

// ixLayout is an index as stored, read without atomicity (for verify and tests).
type ixLayout struct {
	chunked bool
	plain   []ixEntry
	chunks  []ixChunk
	count   int64 // the count hash's value (chunked only)
}

// entries lists every entry in storage order.
func (l *ixLayout) entries() []ixEntry {
	if !l.chunked {
		return l.plain
	}
	var out []ixEntry
	for _, c := range l.chunks {
		out = append(out, c.entries...)
	}
	return out
}

func (k keys) indexSuffix(t model.Tenant, key string) string {
	return strings.TrimPrefix(key, k.tenantBase(t))
}

func (k keys) directory(t model.Tenant, key string) string {
	return k.tenantBase(t) + "ixd:" + k.indexSuffix(t, key)
}

func (k keys) counts(t model.Tenant) string { return k.tenantBase(t) + "ixn" }

// chunk is the key of the chunk of an index whose directory member is dirm.
func (k keys) chunk(t model.Tenant, key, dirm string) string {
	return k.tenantBase(t) + "ixk:" + dirm[12:] + ":" + k.indexSuffix(t, key)
}

func decodeBound(dirm string) (ixEntry, bool) {
	if len(dirm) < 13 {
		return ixEntry{}, false
	}
	var sc uint64
	for i := range 8 {
		sc = sc<<8 | uint64(dirm[i])
	}
	return ixEntry{score: int64(sc), m: dirm[8:12]}, true
}

func zEntries(zs []redis.Z) []ixEntry {
	out := make([]ixEntry, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = ixEntry{score: int64(z.Score), m: m}
	}
	return out
}

// ixRead reads an index in whichever form it is stored.
func (s *Store) ixRead(ctx context.Context, t model.Tenant, key string) (*ixLayout, error) {
	dir := s.k.directory(t, key)
	dms, err := s.rdb.ZRange(ctx, dir, 0, -1).Result()
	if err != nil {
		return nil, storeErr("read directory", err)
	}
	l := &ixLayout{}
	if len(dms) == 0 {
		zs, err := s.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			return nil, storeErr("read index", err)
		}
		l.plain = zEntries(zs)
		return l, nil
	}
	l.chunked = true
	cnt, err := s.rdb.HGet(ctx, s.k.counts(t), s.k.indexSuffix(t, key)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr("read count", err)
	}
	l.count = cnt
	for _, dm := range dms {
		lo, ok := decodeBound(dm)
		c := ixChunk{dirm: dm, lo: lo, missing: !ok}
		if ok {
			c.key = s.k.chunk(t, key, dm)
			zs, err := s.rdb.ZRangeWithScores(ctx, c.key, 0, -1).Result()
			if err != nil {
				return nil, storeErr("read chunk", err)
			}
			c.entries = zEntries(zs)
			c.missing = len(zs) == 0
		}
		l.chunks = append(l.chunks, c)
	}
	return l, nil
}

// problems lists what is wrong with a chunked index's structure (nothing for a plain one).
func (l *ixLayout) problems() (kinds, details []string) {
	if !l.chunked {
		return nil, nil
	}
	total := 0
	less := func(a, b ixEntry) bool {
		return a.score < b.score || (a.score == b.score && idOf(a.m) < idOf(b.m))
	}
	for i, c := range l.chunks {
		switch {
		case c.missing:
			kinds, details = append(kinds, "directory member without chunk"), append(details, "chunk "+c.key)
		case len(c.entries) > chunkMax:
			kinds, details = append(kinds, "chunk over 128 entries"), append(details, c.key+" holds "+strconv.Itoa(len(c.entries)))
		default:
			out := less(c.entries[0], c.lo)
			if i+1 < len(l.chunks) && !less(c.entries[len(c.entries)-1], l.chunks[i+1].lo) {
				out = true
			}
			if out {
				kinds, details = append(kinds, "chunk entries outside its bounds"), append(details, c.key)
			}
		}
		total += len(c.entries)
	}
	if int64(total) != l.count {
		kinds = append(kinds, "index count does not match")
		details = append(details, "count "+strconv.FormatInt(l.count, 10)+", entries "+strconv.Itoa(total))
	}
	return kinds, details
}

func idOf(m string) int {
	if len(m) != 4 {
		return -1
	}
	return int(uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3]))
}
