package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReadCache keeps recently read records (and the id pointers federation lookups follow)
// in process memory, with go-redis's client-side caching: a client of its own speaks
// RESP3 with CLIENT TRACKING on, so Redis tells it of every change to a key it has read
// (any write, scripts included, from any instance) and the entry is dropped. The store
// reads through it only where a slightly old answer is acceptable: connectSession and
// federation lookups. Writes, their compare-and-set reads, pages, authentication and
// every decision about a token use the store's plain client.
//
// Consistency: an instance reads its own writes (the store drops the entries a write
// touched before it answers); another instance sees a write once Redis's invalidation
// reaches it (bench/README.md, "Read cache", has the measured delay), and never serves
// an entry older than MaxStaleness, the backstop for a lost invalidation. Entries fetched
// over a connection that breaks are dropped with it.
type ReadCache struct {
	rdb   *redis.Client
	local *redis.LocalCache
	// ns is what go-redis puts before a Redis key in its local cache (the database and
	// ACL user), so that forget can name the entries of a key.
	ns string
}

// ReadCacheOptions configure a ReadCache.
type ReadCacheOptions struct {
	// MaxBytes bounds the memory the cached replies take (default
	// DefaultReadCacheMaxBytes).
	MaxBytes int64
	// MaxStaleness is the longest an entry is served after it was fetched, whatever the
	// invalidations (default DefaultReadCacheMaxStaleness).
	MaxStaleness time.Duration
}

// DefaultReadCacheMaxBytes is the read cache's memory budget unless told otherwise:
// about 32,000 records of the benchmark's mix (entrySize).
const DefaultReadCacheMaxBytes = 32 << 20

// DefaultReadCacheMaxStaleness bounds how long an entry is served unless told otherwise.
const DefaultReadCacheMaxStaleness = 5 * time.Second

// ErrReadCacheUnsupported is returned by NewReadCache and Check where the read cache
// cannot work: a database other than 0, or a server that does not track keys.
var ErrReadCacheUnsupported = errors.New("cache: the read cache needs a single Redis server and database 0")

// NewReadCache returns a read cache over the Redis server at url (the store's own). It
// does not contact Redis. It returns ErrReadCacheUnsupported for a database other than 0.
func NewReadCache(url string, opts ReadCacheOptions) (*ReadCache, error) {
	ropts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: redis url: %w", err)
	}
	if ropts.DB != 0 {
		return nil, fmt.Errorf("%w (the URL selects database %d)", ErrReadCacheUnsupported, ropts.DB)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultReadCacheMaxBytes
	}
	if opts.MaxStaleness <= 0 {
		opts.MaxStaleness = DefaultReadCacheMaxStaleness
	}
	cfg := redis.CacheConfig{MaxMemoryBytes: opts.MaxBytes, MaxStaleness: opts.MaxStaleness, DrainInterval: drainInterval,
		Sizer: entrySize}
	local := redis.NewLocalCache(cfg)
	ropts.Protocol = 3 // invalidations arrive as RESP3 pushes
	// The cache is made here, to keep a handle on it (stats, forget); the client reads
	// the drain interval from the config alone.
	ropts.ClientSideCache, ropts.ClientSideCacheConfig = local, &cfg
	ropts.DialTimeout, ropts.ReadTimeout, ropts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	ropts.PoolTimeout, ropts.MaxRetries = poolTimeout, 1
	ns := strconv.Itoa(ropts.DB) + "\x00" + strconv.Itoa(len(ropts.Username)) + ":" + ropts.Username + "\x00"
	return &ReadCache{rdb: redis.NewClient(ropts), local: local, ns: ns}, nil
}

// entrySize is what one cached reply takes in the heap, measured: go-redis's own
// estimate counts the bytes of the key and value plus a small constant, about a third of
// what an entry holds (its key twice, the index from Redis key to entries, the LRU
// links). TestReadCacheSizeIsTheHeap keeps it within a third of the measured heap.
func entrySize(cacheKey string, redisKeys []string, value []byte) int64 {
	n := 700 + 2*len(cacheKey) + len(value)
	for _, k := range redisKeys {
		n += 2 * len(k)
	}
	return int64(n)
}

// forget drops what the cache holds for the Redis keys, so that this instance's next
// read of them goes to Redis: a write calls it before it answers, as the invalidation
// Redis sends for it may not have been read yet. It returns how many entries it dropped.
func (c *ReadCache) forget(keys ...string) int {
	if c == nil {
		return 0
	}
	n := 0
	for _, k := range keys {
		n += c.local.DeleteByRedisKey(c.ns + k)
	}
	return n
}

// ReadCacheStats is what a read cache has done since it started, and holds now.
type ReadCacheStats struct {
	Hits, Misses uint64
	// Invalidations counts the keys Redis said had changed.
	Invalidations uint64
	Entries       int
	Bytes         int64
}

// Stats reports the cache's activity and residency.
func (c *ReadCache) Stats() ReadCacheStats {
	st := c.local.Stats()
	return ReadCacheStats{Hits: st.Hits, Misses: st.Misses, Invalidations: c.local.InvalidationStats(),
		Entries: st.Entries, Bytes: st.MemoryUsageBytes}
}

// Check asks Redis whether the cache's connections are tracked, then reads a key that
// does not exist through the cache and drops it as a write would. It returns an error
// wrapping ErrReadCacheUnsupported when the server refuses tracking (a Redis older than
// 6.2, or one that only speaks the protocol, such as miniredis: go-redis then reads
// without caching) or when the entry cannot be dropped (go-redis names cached keys in
// a way forget does not know: a write's next read could then be stale), and one
// wrapping model.ErrUnavailable when Redis cannot be reached.
func (c *ReadCache) Check(ctx context.Context) error {
	if err := c.checkTracking(ctx); err != nil {
		return err
	}
	const canary = "connectsession:read-cache-check"
	if err := c.rdb.Get(ctx, canary).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return storeErr("check read cache", err)
	}
	if n := c.forget(canary); n != 1 {
		return fmt.Errorf("%w: a cached read could not be dropped (%d entries dropped, want 1)", ErrReadCacheUnsupported, n)
	}
	return nil
}

func (c *ReadCache) checkTracking(ctx context.Context) error {
	res, err := c.rdb.Do(ctx, "CLIENT", "TRACKINGINFO").Result()
	var flags []any
	if err == nil {
		info, _ := res.(map[any]any)
		flags, _ = info["flags"].([]any)
	} else if unavailable(err) {
		return storeErr("check read cache", err)
	}
	if !slices.Contains(flags, any("on")) {
		return fmt.Errorf("%w: Redis does not track this client's keys (CLIENT TRACKINGINFO: %v)", ErrReadCacheUnsupported, errOr(err, flags))
	}
	return nil
}

func errOr(err error, v any) any {
	if err != nil {
		return err
	}
	return v
}

// AddHook adds a go-redis hook to the cache's client (the service's error metric).
func (c *ReadCache) AddHook(h redis.Hook) { c.rdb.AddHook(h) }

// Close closes the cache's client and drops its entries.
func (c *ReadCache) Close() error {
	err := c.rdb.Close()
	c.local.Flush()
	return err
}

// drainInterval is how often go-redis looks for invalidations on the cache's idle
// connections: the bound on how long this instance serves a record another instance has
// changed, when nothing else reads the connection the invalidation arrived on. 5 ms is
// go-redis's default; 1 ms cut the delay's median from 4.7 to 1.4 ms but doubled what an
// idle instance spends (bench/README.md, "Read cache").
const drainInterval = 5 * time.Millisecond
