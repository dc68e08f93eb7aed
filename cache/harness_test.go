package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// backend is one Redis the suite runs against.
type backend struct {
	name  string
	store *Store
	rdb   redis.UniversalClient
	// clock is the store's clock; on miniredis it also counts the server's TTLs down.
	clock *redistest.Clock
	// real is true for a real Redis server, where TTLs run on the wall clock.
	real bool
}

// newBackend is a store over rb's Redis and key prefix, on a clock of its own.
func newBackend(rb *redistest.Backend) *backend {
	c := redistest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if rb.Mini != nil {
		c.Drive(rb.Mini)
	}
	return &backend{name: rb.Name, rdb: rb.RDB, clock: c, real: rb.Real(),
		store: New(rb.RDB, Options{Prefix: rb.Prefix, Now: c.Now})}
}

// withTokenPointers is the backend with a store over the same Redis, prefix and clock
// whose Options.TokenPointers is on: another instance of the same deployment, set up
// with TOKEN_POINTERS=write (or off).
func (b *backend) withTokenPointers(on bool) *backend {
	c := *b
	c.store = New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, TokenPointers: on})
	return &c
}

// pointerModes are the two settings of Options.TokenPointers, for tests of both.
var pointerModes = []struct {
	name string
	on   bool
}{{"pointers off", false}, {"pointers written", true}}

// each runs fn on miniredis and on the real Redis at REDIS_URL (or the cluster at
// REDIS_CLUSTER_ADDRS), which skips when neither is set; see redistest.Each.
func each(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Helper()
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) { fn(t, newBackend(rb)) })
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

// isEventLog reports whether k is a tenant's event log, which writes and removals append
// to by design: tests that check a removal leaves nothing behind skip it (and check the
// log on their own).
func isEventLog(k string) bool {
	return strings.HasSuffix(k, "}:log") || strings.HasSuffix(k, "}:logcut")
}
