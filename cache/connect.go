package cache

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client timeouts: short, so that a Redis that is down or stuck fails requests quickly.
const (
	dialTimeout = time.Second
	ioTimeout   = 2 * time.Second
	poolTimeout = 2 * time.Second
)

// Connect returns a client for the Redis Cluster reached through seeds or, when there are
// none, for the server at url (redis:// or rediss://). It does not contact Redis.
//
// The client speaks RESP2 whatever the URL asks: with RESP3, go-redis v9.23's pub/sub
// receiver treats pending push messages as notifications and can block with published
// messages unread (seen here: a subscriber stopped after a dozen events), and nothing in
// this service needs RESP3.
func Connect(url string, seeds []string) (redis.UniversalClient, error) {
	if len(seeds) > 0 {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: seeds, Protocol: 2,
			DialTimeout: dialTimeout, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
			PoolTimeout: poolTimeout, MaxRetries: 1,
		}), nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: redis url: %w", err)
	}
	opts.Protocol = 2
	// Fail fast when Redis is away: requests answer UNAVAILABLE within about a second
	// instead of queueing, and the pool reconnects by itself when Redis is back.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	opts.PoolTimeout, opts.MaxRetries = poolTimeout, 1
	return redis.NewClient(opts), nil
}
