package cache_test

import (
	"connectsession/cache"
	"connectsession/resolvers"
)

var _ resolvers.Store = (*cache.Store)(nil)
