// Package redistest is the harness every package's tests share: the Redis backends a
// test runs on (a miniredis in process, and the real server at REDIS_URL or the cluster
// at REDIS_CLUSTER_ADDRS when the environment names one; Each runs a test on both), a
// settable clock for the store, and the GraphQL error entry tests decode responses into.
// Each test on a real Redis takes its own key prefix and removes its keys when it ends,
// so tests share a server safely.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FromEnv connects to REDIS_CLUSTER_ADDRS or REDIS_URL, or returns nil when neither is
// set. It fails the test when the server does not answer, and closes the client when the
// test ends.
func FromEnv(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	rdb := NamedFromEnv(tb, "")
	if rdb == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("real redis does not answer: %v", err)
	}
	return rdb
}

// NamedFromEnv is FromEnv with name as the client name of every connection, so a test
// can find and kill its own connections (CLIENT LIST, CLIENT KILL) without touching
// anyone else's. It opens no connection: the test's first command does.
func NamedFromEnv(tb testing.TB, name string) redis.UniversalClient {
	tb.Helper()
	var rdb redis.UniversalClient
	if addrs := os.Getenv("REDIS_CLUSTER_ADDRS"); addrs != "" {
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), Protocol: 2, ClientName: name}) // as cache.Connect
	} else if url := os.Getenv("REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			tb.Fatalf("REDIS_URL: %v", err)
		}
		opts.Protocol = 2 // as the service's client (cache.Connect) does
		if name != "" {
			opts.ClientName = name
		}
		rdb = redis.NewClient(opts)
	} else {
		return nil
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Prefix returns a fresh key prefix and removes every key under it when the test ends.
func Prefix(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() { DeleteKeys(tb, rdb, prefix) })
	return prefix
}

// DeleteKeys removes every key under prefix (never FLUSHALL: others share the server).
func DeleteKeys(tb testing.TB, rdb redis.UniversalClient, prefix string) {
	tb.Helper()
	ctx := context.Background()
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+":*", 500).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	}
	if err != nil {
		tb.Errorf("cleaning up %s: %v", prefix, err)
	}
}

// Snapshot describes every key under prefix with its type and whole value (a stream's
// entries without their ids), so a test can assert that an operation wrote nothing. It works on miniredis, which lacks DUMP for
// most types.
func Snapshot(tb testing.TB, rdb redis.UniversalClient, prefix string) map[string]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := Keys(ctx, rdb, prefix)
	if err != nil {
		tb.Fatalf("scan %s: %v", prefix, err)
	}
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			tb.Fatalf("type %s: %v", k, err)
		}
		var v any
		switch typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "set":
			var m []string
			m, err = rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "stream":
			// The entries' values in order; their ids come from the server's clock, so
			// two runs of the same writes differ in them.
			var msgs []redis.XMessage
			msgs, err = rdb.XRange(ctx, k, "-", "+").Result()
			vals := make([]map[string]any, len(msgs))
			for i, m := range msgs {
				vals[i] = m.Values
			}
			v = vals
		case "none":
			continue // expired between SCAN and TYPE
		default:
			tb.Fatalf("snapshot: key %s has unexpected type %s", k, typ)
		}
		if err != nil && err != redis.Nil {
			tb.Fatalf("read %s: %v", k, err)
		}
		out[k] = typ + ":" + fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return out
}

// Keys lists every key under prefix; on a cluster it scans every master (a SCAN through
// a ClusterClient reaches one node only).
func Keys(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("redistest: unsupported client %T", rdb)
	}
	sort.Strings(keys)
	return keys, err
}
