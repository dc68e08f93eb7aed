package cache_test

import (
	"connectsession/cache"
	"connectsession/resolvers"
	"connectsession/webhooks"
)

var (
	_ resolvers.Store        = (*cache.Store)(nil)
	_ resolvers.WebhookStore = (*cache.Store)(nil)
	_ webhooks.Store         = (*cache.Store)(nil)
)
