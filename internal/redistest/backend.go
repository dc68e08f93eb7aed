package redistest

import (
	"os"
	"strconv"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend is one Redis a test runs against, with the key prefix the test's keys go under.
type Backend struct {
	// Name is "miniredis" or "redis" (a real server or cluster), as Each names subtests.
	Name   string
	RDB    redis.UniversalClient
	Prefix string
	// Mini is the in-process server, or nil on a real one.
	Mini *miniredis.Miniredis
}

// Real reports whether the backend is a real server, whose TTLs follow the wall clock.
func (b *Backend) Real() bool { return b.Mini == nil }

// URL is a REDIS_URL naming the backend, for code that connects by itself (the service's
// run); it is "" for a cluster, which a single URL cannot name.
func (b *Backend) URL() string {
	if b.Mini != nil {
		return "redis://" + b.Mini.Addr()
	}
	c, ok := b.RDB.(*redis.Client)
	if !ok {
		return ""
	}
	opts := c.Options()
	return "redis://" + opts.Addr + "/" + strconv.Itoa(opts.DB)
}

// Mini starts a miniredis for the test with a client over it; keys go under prefix.
// Both end with the test.
func Mini(tb testing.TB, prefix string) *Backend {
	tb.Helper()
	mr := miniredis.RunT(tb)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	tb.Cleanup(func() { _ = rdb.Close() })
	return &Backend{Name: "miniredis", RDB: rdb, Prefix: prefix, Mini: mr}
}

// Real is the Redis the environment names (see FromEnv) under a fresh key prefix whose
// keys are removed when the test ends, or nil when the environment names none.
func Real(tb testing.TB) *Backend {
	tb.Helper()
	rdb := FromEnv(tb)
	if rdb == nil {
		return nil
	}
	return &Backend{Name: "redis", RDB: rdb, Prefix: Prefix(tb, rdb)}
}

// NoRealRedis is why a test that needs a real Redis skips.
const NoRealRedis = "no real Redis: set REDIS_URL (or REDIS_CLUSTER_ADDRS) to run this test"

// NeedReal is Real for a test that cannot run on miniredis: it skips the test, saying
// why, when the environment names no Redis.
func NeedReal(t testing.TB) *Backend {
	t.Helper()
	b := Real(t)
	if b == nil {
		t.Skip(NoRealRedis)
	}
	return b
}

// FromEnvOrMini is Real when the environment names a Redis, else Mini(tb, miniPrefix).
func FromEnvOrMini(tb testing.TB, miniPrefix string) *Backend {
	tb.Helper()
	if b := Real(tb); b != nil {
		return b
	}
	return Mini(tb, miniPrefix)
}

// Each runs fn in two subtests: "miniredis" (keys under "t") and "redis", on the Redis
// the environment names, which skips with the reason when it names none. Each subtest
// has a server or key prefix of its own.
func Each(t *testing.T, fn func(t *testing.T, b *Backend)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { fn(t, Mini(t, "t")) })
	t.Run("redis", func(t *testing.T) { fn(t, NeedReal(t)) })
}

// NoCluster is why a test that needs a Redis Cluster skips.
const NoCluster = "no Redis Cluster: set REDIS_CLUSTER_ADDRS to run this test"

// SkipUnlessCluster skips the test, saying why, unless the environment names a Redis
// Cluster.
func SkipUnlessCluster(t testing.TB) {
	t.Helper()
	if os.Getenv("REDIS_CLUSTER_ADDRS") == "" {
		t.Skip(NoCluster)
	}
}

// NeedCluster is the Redis Cluster at REDIS_CLUSTER_ADDRS under a fresh key prefix; it
// skips the test, saying why, when that is unset.
func NeedCluster(t testing.TB) (*redis.ClusterClient, string) {
	t.Helper()
	SkipUnlessCluster(t)
	b := Real(t)
	c, ok := b.RDB.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("REDIS_CLUSTER_ADDRS gave a %T, not a cluster client", b.RDB)
	}
	return c, b.Prefix
}
