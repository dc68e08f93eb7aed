package cache

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func TestAPQSharedThroughRedis(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		hash := "9c8fb2a4a2a6f5e3b63c0b1b0a9c2f1e4d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c"
		one, other := b.store.NewAPQ(time.Hour, 0), b.store.NewAPQ(time.Hour, 0)
		if _, ok := other.Get(ctx, hash); ok {
			t.Fatalf("hit before registration")
		}
		one.Add(ctx, hash, "{ a }")
		if q, ok := other.Get(ctx, hash); !ok || q != "{ a }" {
			t.Errorf("another instance: got %q %v, want the registered query", q, ok)
		}
		if ttl := b.rdb.TTL(ctx, b.store.k.apq(hash)).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("ttl: got %v, want at most an hour", ttl)
		}
		if hits, misses, errs := other.Stats(); hits != 1 || misses != 1 || errs != 0 {
			t.Errorf("stats: %d hits %d misses %d errors, want 1 1 0", hits, misses, errs)
		}
		if _, ok := other.Get(ctx, "not-a-hash"); ok {
			t.Errorf("a malformed hash hit")
		}
	})
}

func TestAPQRedisErrorsAreCounted(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	a := New(rdb, Options{Prefix: "t"}).NewAPQ(time.Hour, 0)
	mr.Close()
	ctx := context.Background()
	hash := "0000000000000000000000000000000000000000000000000000000000000001"
	a.Add(ctx, hash, "{ a }")
	if _, _, errs := a.Stats(); errs != 1 {
		t.Errorf("errors after a failed store: got %d, want 1", errs)
	}
	// The query is still served from this instance's memory.
	if q, ok := a.Get(ctx, hash); !ok || q != "{ a }" {
		t.Errorf("local copy: got %q %v", q, ok)
	}
	if _, ok := a.Get(ctx, "0000000000000000000000000000000000000000000000000000000000000002"); ok {
		t.Errorf("hit with redis down")
	}
	if _, misses, errs := a.Stats(); misses != 1 || errs != 2 {
		t.Errorf("after a failed lookup: %d misses %d errors, want 1 2", misses, errs)
	}
}
