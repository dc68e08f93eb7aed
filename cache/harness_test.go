package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// testClock is a settable clock shared by a store and, for miniredis, the server's TTLs.
type testClock struct {
	mu sync.Mutex
	t  time.Time
	mr *miniredis.Miniredis
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock and, on miniredis, counts TTLs down by the same amount.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	if c.mr != nil {
		c.mr.FastForward(d)
	}
}

// backend is one Redis the suite runs against.
type backend struct {
	name  string
	store *Store
	rdb   redis.UniversalClient
	clock *testClock
	// real is true for a real Redis server, where TTLs run on the wall clock.
	real bool
}

// backends returns the suite's stores: always one on miniredis, and one on the real
// Redis at REDIS_URL (or the cluster at REDIS_CLUSTER_ADDRS) when set. Each uses its own
// key prefix, and its keys are removed when the test ends.
func backends(t testing.TB) []*backend {
	t.Helper()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mr := miniredis.RunT(t)
	mrClient := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = mrClient.Close() })
	mc := &testClock{t: start, mr: mr}
	out := []*backend{{name: "miniredis", rdb: mrClient, clock: mc,
		store: New(mrClient, Options{Prefix: "t", Now: mc.Now})}}
	if rdb := redistest.FromEnv(t); rdb != nil {
		prefix := redistest.Prefix(t, rdb)
		rc := &testClock{t: start}
		out = append(out, &backend{name: "redis", rdb: rdb, clock: rc, real: true,
			store: New(rdb, Options{Prefix: prefix, Now: rc.Now})})
	}
	return out
}

// dumpKeys returns every key under the backend's prefix with a description of its value,
// for asserting what a write left behind.
func dumpKeys(t testing.TB, b *backend) map[string]string {
	t.Helper()
	return redistest.Snapshot(t, b.rdb, b.store.k.prefix)
}

// tokenHash is what the record of a session keeps of its token.
func tokenHash(t testing.TB, token string) string {
	t.Helper()
	_, hash, legacy, ok := parseToken(token)
	if !ok {
		t.Fatalf("malformed token %q", token)
	}
	if legacy {
		return hashToken(token)
	}
	return hash
}

// indexEntries reads an index in whichever form it is stored, in index order.
func indexEntries(t testing.TB, b *backend, tn model.Tenant, key string) []ixEntry {
	t.Helper()
	l, err := b.store.ixRead(context.Background(), tn, key)
	if err != nil {
		t.Fatal(err)
	}
	return l.entries()
}

// indexScore is the score of id in an index, and whether it is there.
func indexScore(t testing.TB, b *backend, tn model.Tenant, key string, id int) (int64, bool) {
	t.Helper()
	for _, e := range indexEntries(t, b, tn, key) {
		if e.m == member(id) {
			return e.score, true
		}
	}
	return 0, false
}
