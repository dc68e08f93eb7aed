package cache

import (
	"fmt"

	"github.com/redis/go-redis/v9"
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
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds, Protocol: 2}), nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: redis url: %w", err)
	}
	opts.Protocol = 2
	return redis.NewClient(opts), nil
}
