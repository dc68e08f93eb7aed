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
	// "record without id pointer", "record without token pointer",
	// "token pointer to missing session".
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

// Verify checks tenants' records against their indexes and pointers: every index entry
// must have its record, every record its index entries (with the right scores), its id
// pointer and, while its token is usable, its token pointer; every token pointer must
// lead to its session. With only set, one tenant is checked, else every tenant in the
// registry, plus the token pointers. With repair, each problem is fixed (missing entries
// added, orphans removed). Verify reads whole tenants: run it off-peak.
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
	base := globEscape(s.k.tenantBase(t))
	// Records: each with its index entries and pointers.
	err := s.scanKeys(ctx, base+"s:*", func(key string) error {
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
		want := map[string]int64{}
		for _, ix := range s.k.indexKeys(t, r) {
			want[ix] = r.Created
		}
		want[s.k.expiry(t)] = r.Expires
		for ix, score := range want {
			got, err := s.rdb.ZScore(ctx, ix, member(r.ID)).Result()
			if err != nil && err != redis.Nil {
				return storeErr("verify index", err)
			}
			if err == redis.Nil || int64(got) != score {
				rep.add("record without index entry", key, ix)
				if repair {
					if err := s.rdb.ZAdd(ctx, ix, redis.Z{Score: float64(score), Member: member(r.ID)}).Err(); err != nil {
						return storeErr("repair index", err)
					}
					rep.Repaired++
				}
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
		if r.tokenUsable(now) {
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
	// Index entries: each must have a record that belongs in that index.
	check := func(ix string) error {
		members, err := s.rdb.ZRange(ctx, ix, 0, -1).Result()
		if err != nil {
			return storeErr("verify index", err)
		}
		for _, m := range members {
			if len(m) != 4 {
				rep.add("index entry without record", ix, fmt.Sprintf("member %q", m))
				continue
			}
			id := int(uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3]))
			raw, err := s.rdb.Get(ctx, s.k.record(t, id)).Result()
			if err != nil && err != redis.Nil {
				return storeErr("verify index record", err)
			}
			belongs := false
			if err == nil {
				if r, derr := decodeRecord(raw); derr == nil {
					belongs = ix == s.k.expiry(t)
					for _, k := range s.k.indexKeys(t, r) {
						belongs = belongs || k == ix
					}
				}
			}
			if !belongs {
				rep.add("index entry without record", ix, "id "+strconv.Itoa(id))
				if repair {
					if err := s.rdb.ZRem(ctx, ix, m).Err(); err != nil {
						return storeErr("repair index", err)
					}
					rep.Repaired++
				}
			}
		}
		return nil
	}
	if err := s.scanKeys(ctx, base+"ix:*", check); err != nil {
		return err
	}
	return check(s.k.expiry(t))
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
