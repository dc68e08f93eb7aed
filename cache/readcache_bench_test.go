package cache

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// BenchmarkReadCacheGet is a point read through the store: from Redis, and from the read
// cache (the same record every time).
func BenchmarkReadCacheGet(b *testing.B) {
	rb := redistest.Real(b)
	if rb == nil || rb.URL() == "" {
		b.Skip(redistest.NoRealRedis + " (a single server)")
	}
	rc, err := NewReadCache(rb.URL(), ReadCacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	plain := New(rb.RDB, Options{Prefix: rb.Prefix})
	cs, _, err := plain.Create(ctx, createIn(rcTenant, "o"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		store *Store
	}{{"redis", plain}, {"cached", New(rb.RDB, Options{Prefix: rb.Prefix, ReadCache: rc})}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.store.Get(ctx, rcTenant, cs.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadCacheCrossInstance measures how long another instance serves the old
// version of a record: instance A updates it, instance B reads it in a loop (from its
// cache) until it sees the update. It reports the delay's median, 99th percentile and
// maximum over the iterations.
func BenchmarkReadCacheCrossInstance(b *testing.B) {
	rb := redistest.Real(b)
	if rb == nil || rb.URL() == "" {
		b.Skip(redistest.NoRealRedis + " (a single server)")
	}
	ctx := context.Background()
	cacheOn := func() *Store {
		rc, err := NewReadCache(rb.URL(), ReadCacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rc.Close() })
		return New(rb.RDB, Options{Prefix: rb.Prefix, ReadCache: rc})
	}
	a, other := cacheOn(), cacheOn()
	cs, _, err := a.Create(ctx, createIn(rcTenant, "o"))
	if err != nil {
		b.Fatal(err)
	}
	var delays []time.Duration
	n := 0
	for b.Loop() {
		n++
		name := "v" + strconv.Itoa(n)
		if _, err := other.Get(ctx, rcTenant, cs.ID); err != nil { // cached before the write
			b.Fatal(err)
		}
		if _, err := a.Update(ctx, &model.SessionUpdate{OrganizationID: 1, ProjectID: "rc", ID: cs.ID, OriginOwnerName: model.Set(&name)}); err != nil {
			b.Fatal(err)
		}
		written := time.Now()
		for {
			got, err := other.Get(ctx, rcTenant, cs.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.OriginOwnerName == name {
				break
			}
			if time.Since(written) > DefaultReadCacheMaxStaleness {
				b.Fatalf("instance B served the old version for %s", DefaultReadCacheMaxStaleness)
			}
		}
		delays = append(delays, time.Since(written))
	}
	slices.Sort(delays)
	at := func(q float64) float64 { return float64(delays[int(q*float64(len(delays)-1))].Microseconds()) }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(1), "max-µs")
}
