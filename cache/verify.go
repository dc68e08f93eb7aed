package cache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Problem is one inconsistency Verify found.
type Problem struct {
	// Kind is one of "index entry without record", "record without index entry",
	// "record without id pointer", "record without token pointer", "token pointer to
	// missing session", and for the chunked form of an index (see keys): "chunk over 128
	// entries", "directory member without chunk", "chunk entries outside its bounds",
	// "index count does not match", "plain index beside its chunks", "chunk without
	// directory member"; and against the event log (verify_log.go): "undecodable event",
	// "record without its event", "record after its DELETED event", "record differs from
	// its last event", "event of a missing record". Repair leaves the log as it is: it
	// is history, and these tell of writes made without it (an instance older than the
	// log during a rolling upgrade) or by hand.
	Kind   string
	Key    string
	Detail string
	// Harmless marks a dangling pointer that a write interrupted between its steps may
	// leave by design: no reader can reach anything through it.
	Harmless bool
}

// Inconsistencies counts the problems a reader could see (all but the harmless ones).
func (r *Report) Inconsistencies() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Harmless {
			n++
		}
	}
	return n
}

// Report is what Verify found (and, with repair, fixed).
type Report struct {
	Tenants  int
	Records  int
	Problems []Problem
	Repaired int
}

// Verify checks tenants' records against their indexes, pointers and event log: every index entry
// must have its record, every record its index entries (with the right scores), its id
// pointer and, with Options.TokenPointers and while its token is usable, its token
// pointer; every token pointer must lead to its session. A chunked index must
// be well formed: chunks of at most 128 entries within their directory bounds, every
// directory member with its chunk and every chunk with its member, and the right count.
// With only set, one tenant is checked, else every tenant in the registry, plus the
// token pointers. With repair, each problem is fixed (a malformed chunked index is
// rewritten from its entries, missing entries added, orphans removed). Verify reads whole
// tenants: run it off-peak.
func (s *Store) Verify(ctx context.Context, only *model.Tenant, repair bool) (*Report, error) {
	rep := &Report{}
	var tenants []model.Tenant
	if only != nil {
		tenants = []model.Tenant{*only}
	} else {
		tags, err := s.rdb.SMembers(ctx, s.k.tenants()).Result()
		if err != nil {
			return nil, storeErr("verify tenants", err)
		}
		for _, tag := range tags {
			if t, ok := parseTenantTag(tag); ok {
				tenants = append(tenants, t)
			}
		}
	}
	for _, t := range tenants {
		if err := s.verifyTenant(ctx, t, repair, rep); err != nil {
			return rep, err
		}
		rep.Tenants++
	}
	if only == nil {
		if err := s.verifyTokens(ctx, repair, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (rep *Report) add(kind, key, detail string) {
	rep.Problems = append(rep.Problems, Problem{Kind: kind, Key: key, Detail: detail})
}

// globEscape quotes the characters SCAN's MATCH treats as patterns.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// scanKeys calls fn for every key matching pattern, on every master of a cluster.
func (s *Store) scanKeys(ctx context.Context, pattern string, fn func(key string) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			if err := fn(iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, s.rdb)
}

func (s *Store) verifyTenant(ctx context.Context, t model.Tenant, repair bool, rep *Report) error {
	base := s.k.tenantBase(t)
	glob := globEscape(base)
	// Every index of the tenant, by its plain key: plain ones, and chunked ones by their
	// directory.
	names := map[string]bool{s.k.expiry(t): true}
	if err := s.scanKeys(ctx, glob+"ix:*", func(key string) error {
		names[key] = true
		return nil
	}); err != nil {
		return err
	}
	if err := s.scanKeys(ctx, glob+directoryInfix+"*", func(key string) error {
		names[base+strings.TrimPrefix(key, base+directoryInfix)] = true
		return nil
	}); err != nil {
		return err
	}

	// Structure: a malformed chunked index is rewritten from its entries.
	entries := map[string]map[string]int64{}
	chunks := map[string]bool{}
	for ix := range names {
		l, err := s.ixRead(ctx, t, ix)
		if err != nil {
			return err
		}
		kinds, details := l.problems()
		if l.chunked {
			n, err := s.rdb.Exists(ctx, ix).Result()
			if err != nil {
				return storeErr("verify index", err)
			}
			if n != 0 {
				kinds, details = append(kinds, "plain index beside its chunks"), append(details, ix)
			}
		}
		for i := range kinds {
			rep.add(kinds[i], ix, details[i])
		}
		if len(kinds) > 0 && repair {
			if err := s.ixRebuild(ctx, t, ix); err != nil {
				return err
			}
			rep.Repaired += len(kinds)
			if l, err = s.ixRead(ctx, t, ix); err != nil {
				return err
			}
		}
		m := map[string]int64{}
		for _, e := range l.entries() {
			m[e.m] = e.score
		}
		entries[ix] = m
		for _, c := range l.chunks {
			chunks[c.key] = true
		}
	}
	if err := s.scanKeys(ctx, glob+chunkInfix+"*", func(key string) error {
		if chunks[key] {
			return nil
		}
		rep.add("chunk without directory member", key, "")
		if repair {
			// Its entries are unreachable; records missing them get them back below.
			if err := s.rdb.Del(ctx, key).Err(); err != nil {
				return storeErr("repair chunk", err)
			}
			rep.Repaired++
		}
		return nil
	}); err != nil {
		return err
	}

	// The event log, to compare each record with its last event.
	log, err := s.readLog(ctx, t, rep)
	if err != nil {
		return err
	}
	seen := map[int]bool{}

	// Records: each with its index entries, id pointer and last event.
	err = s.scanKeys(ctx, glob+"s:*", func(key string) error {
		raw, err := s.rdb.Get(ctx, key).Result()
		if err == redis.Nil {
			return nil // deleted meanwhile
		}
		if err != nil {
			return storeErr("verify record", err)
		}
		r, err := decodeRecord(raw)
		if err != nil {
			rep.add("undecodable record", key, err.Error())
			return nil
		}
		rep.Records++
		seen[r.ID] = true
		if err := s.checkRecord(ctx, t, log, key, r, rep); err != nil {
			return err
		}
		want := map[string]int64{}
		for _, ix := range s.k.indexKeys(t, r) {
			want[ix] = r.Created
		}
		want[s.k.expiry(t)] = r.Expires
		m := member(r.ID)
		for ix, score := range want {
			got, found := entries[ix][m]
			if found && got == score {
				continue
			}
			rep.add("record without index entry", key, ix)
			if repair {
				if found {
					if err := s.ixRem(ctx, t, ix, got, m); err != nil {
						return err
					}
				}
				if err := s.ixAdd(ctx, t, ix, score, r.ID); err != nil {
					return err
				}
				rep.Repaired++
			}
		}
		tag, err := s.rdb.HGet(ctx, s.k.idBucket(r.ID), strconv.Itoa(r.ID)).Result()
		if err != nil && err != redis.Nil {
			return storeErr("verify id pointer", err)
		}
		if tag != tenantTag(t) {
			rep.add("record without id pointer", key, s.k.idBucket(r.ID))
			if repair {
				if err := s.rdb.HSet(ctx, s.k.idBucket(r.ID), strconv.Itoa(r.ID), tenantTag(t)).Err(); err != nil {
					return storeErr("repair id pointer", err)
				}
				rep.Repaired++
			}
		}
		now := s.now()
		// Without Options.TokenPointers a session needs no pointer (a token carrying
		// its id is found by id), and repair creates none.
		if s.tokenPointers && r.tokenUsable(now) {
			ptr, err := s.rdb.Get(ctx, s.k.token(r.TokenHash)).Result()
			if err != nil && err != redis.Nil {
				return storeErr("verify token pointer", err)
			}
			if ptr != tokenPointer(t, r.ID) {
				rep.add("record without token pointer", key, s.k.token(r.TokenHash))
				if repair {
					ttl := time.Duration(r.Expires-millis(now)) * time.Millisecond
					if err := s.rdb.Set(ctx, s.k.token(r.TokenHash), tokenPointer(t, r.ID), ttl).Err(); err != nil {
						return storeErr("repair token pointer", err)
					}
					rep.Repaired++
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.checkMissing(ctx, t, log, seen, rep); err != nil {
		return err
	}

	// Index entries: each must have a record that belongs in that index.
	for ix, es := range entries {
		for m, score := range es {
			id := idOf(m)
			belongs := false
			if id >= 0 {
				raw, err := s.rdb.Get(ctx, s.k.record(t, id)).Result()
				if err != nil && err != redis.Nil {
					return storeErr("verify index record", err)
				}
				if err == nil {
					if r, derr := decodeRecord(raw); derr == nil {
						belongs = ix == s.k.expiry(t)
						for _, k := range s.k.indexKeys(t, r) {
							belongs = belongs || k == ix
						}
					}
				}
			}
			if belongs {
				continue
			}
			detail := "id " + strconv.Itoa(id)
			if id < 0 {
				detail = fmt.Sprintf("member %q", m)
			}
			rep.add("index entry without record", ix, detail)
			if repair {
				if err := s.ixRem(ctx, t, ix, score, m); err != nil {
					return err
				}
				if id < 0 {
					// A malformed member cannot be located in a chunk; a rewrite drops it.
					if err := s.ixRebuild(ctx, t, ix); err != nil {
						return err
					}
				}
				rep.Repaired++
			}
		}
	}
	return nil
}

// verifyTokens checks that every token pointer leads to its session.
func (s *Store) verifyTokens(ctx context.Context, repair bool, rep *Report) error {
	prefix := s.k.token("")
	return s.scanKeys(ctx, globEscape(prefix)+"*", func(key string) error {
		ptr, err := s.rdb.Get(ctx, key).Result()
		if err == redis.Nil {
			return nil // expired meanwhile
		}
		if err != nil {
			return storeErr("verify token", err)
		}
		ok := false
		if t, id, parsed := parseTokenPointer(ptr); parsed {
			raw, err := s.rdb.Get(ctx, s.k.record(t, id)).Result()
			if err != nil && err != redis.Nil {
				return storeErr("verify token record", err)
			}
			if r, derr := decodeRecord(raw); err == nil && derr == nil {
				ok = r.TokenHash == strings.TrimPrefix(key, prefix)
			}
		}
		if !ok {
			rep.add("token pointer to missing session", key, ptr)
			rep.Problems[len(rep.Problems)-1].Harmless = true
			if repair {
				if err := s.rdb.Del(ctx, key).Err(); err != nil {
					return storeErr("repair token", err)
				}
				rep.Repaired++
			}
		}
		return nil
	})
}
