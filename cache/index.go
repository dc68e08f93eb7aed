package cache

import (
	"context"
	"encoding/binary"
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

// chunkSize is how many entries writes put in a plain index or a chunk (IX_MAX in
// lua/lib.lua): half of chunkMax, because inserting into a listpack-encoded sorted set scans
// it twice (for the member, then for the place), and creates insert into eight of them.
// Measured with callgrind on redis-server over 1,000 creates of the benchmark's shape:
// 700k instructions per create script at 128, 654k at 96, 606k at 64, for 668, 667 and
// 686 bytes of Redis memory per session. Chunks of up to chunkMax written by earlier
// versions stay valid: the next insert into a full one splits it.
const chunkSize = 64

// chunkCountCost is what counting one chunk whole (a ZCOUNT and the directory step to the
// next chunk) is charged against a page call's work budget, in entries examined
// (IX_CHUNK_COST in lua/lib.lua): on redis-server 7.0 it costs about as much Redis time as
// walking that many entries with one membership look-up each (see bench/README.md,
// "Noisy neighbour").
const chunkCountCost = 2

// ixOp runs one operation of lua/index.lua on an index.
func (s *Store) ixOp(ctx context.Context, t model.Tenant, key, op string, score int64, arg any) *redis.Cmd {
	c := &ixCall{index: key, guard: s.k.guard(t), base: s.k.tenantBase(t), op: op, score: score, arg: arg, layout: s.layout}
	return c.run(ctx, s.rdb)
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
	return storeErr("index rebuild", s.ixOp(ctx, t, key, "rebuild", 0, nil).Err())
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

// The names a chunked index's keys take after the tenant base, and the width of a
// directory member's bound (an 8-byte score and a 4-byte member; the chunk's number
// follows). lua/lib.lua gets them from luaConstants.
const (
	directoryInfix = "ixd:"
	chunkInfix     = "ixk:"
	countsName     = "ixn"
	boundWidth     = 12
)

func (k keys) directory(t model.Tenant, key string) string {
	return k.tenantBase(t) + directoryInfix + k.indexSuffix(t, key)
}

func (k keys) counts(t model.Tenant) string { return k.tenantBase(t) + countsName }

// chunk is the key of the chunk of an index whose directory member is dirm.
func (k keys) chunk(t model.Tenant, key, dirm string) string {
	return k.tenantBase(t) + chunkInfix + dirm[boundWidth:] + ":" + k.indexSuffix(t, key)
}

func decodeBound(dirm string) (ixEntry, bool) {
	if len(dirm) <= boundWidth {
		return ixEntry{}, false
	}
	// The bound is ix_enc's (lua/lib.lua): 8-byte big-endian score, then the member.
	return ixEntry{score: int64(binary.BigEndian.Uint64([]byte(dirm[:8]))), m: dirm[8:boundWidth]}, true
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
		if kind, value, ok := valueOf(s.k.indexSuffix(t, key)); ok && len(zs) == 0 {
			// No key of its own: the value's entries are in the value-ordered index.
			vl, err := s.lxRead(ctx, t, kind)
			if err != nil {
				return nil, err
			}
			l.plain = vl.values()[value]
		}
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

// lxChunk is one chunk of a value-ordered index as read by lxRead.
type lxChunk struct {
	key     string
	dirm    string // its directory member
	bound   string // the entry the directory member starts with ("" when malformed)
	missing bool
	members []string
}

// lxLayout is a value-ordered index as stored (see keys.go), read without atomicity.
type lxLayout struct {
	name   string // keys.valueIndex
	chunks []lxChunk
}

// lxRead reads the tenant's value-ordered index of kind.
func (s *Store) lxRead(ctx context.Context, t model.Tenant, kind string) (*lxLayout, error) {
	name := s.k.valueIndex(t, kind)
	dms, err := s.rdb.ZRange(ctx, s.k.directory(t, name), 0, -1).Result()
	if err != nil {
		return nil, storeErr("read directory", err)
	}
	l := &lxLayout{name: name}
	for _, dm := range dms {
		c := lxChunk{dirm: dm, missing: true}
		if i := strings.IndexByte(dm, 0); i >= 0 && len(dm) > i+1+valueEntryWidth {
			end := i + 1 + valueEntryWidth
			c.bound = dm[:end]
			c.key = s.k.tenantBase(t) + chunkInfix + dm[end:] + ":" + s.k.indexSuffix(t, name)
			if c.members, err = s.rdb.ZRange(ctx, c.key, 0, -1).Result(); err != nil {
				return nil, storeErr("read chunk", err)
			}
			c.missing = len(c.members) == 0
		}
		l.chunks = append(l.chunks, c)
	}
	return l, nil
}

// values groups the entries by value, each in index order; undecodable entries are left out.
func (l *lxLayout) values() map[string][]ixEntry {
	out := map[string][]ixEntry{}
	for _, c := range l.chunks {
		for _, m := range c.members {
			if v, e, ok := splitValueEntry(m); ok {
				out[v] = append(out[v], e)
			}
		}
	}
	return out
}

// problems lists what is wrong with a value-ordered index's structure.
func (l *lxLayout) problems() (kinds, details []string) {
	for i, c := range l.chunks {
		switch {
		case c.missing:
			kinds, details = append(kinds, "directory member without chunk"), append(details, l.name+" "+strconv.Quote(c.dirm))
		case len(c.members) > chunkMax:
			kinds, details = append(kinds, "chunk over 128 entries"), append(details, c.key+" holds "+strconv.Itoa(len(c.members)))
		default:
			// Redis orders members bytewise, as Go compares strings.
			out := c.members[0] < c.bound
			if i+1 < len(l.chunks) && l.chunks[i+1].bound != "" && c.members[len(c.members)-1] >= l.chunks[i+1].bound {
				out = true
			}
			if out {
				kinds, details = append(kinds, "chunk entries outside its bounds"), append(details, c.key)
			}
			for _, m := range c.members {
				if _, _, ok := splitValueEntry(m); !ok {
					kinds, details = append(kinds, "undecodable index entry"), append(details, c.key+" "+strconv.Quote(m))
				}
			}
		}
	}
	return kinds, details
}
