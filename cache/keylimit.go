package cache

import (
	"context"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	lru "github.com/hashicorp/golang-lru/v2"
)

// LeasedLimiter bounds each subject (an API key) to perSecond requests a second with a
// burst of as many, across every instance, without a Redis round trip per request:
// an instance takes its allowance from the shared GCRA budget in Redis (redis_rate) a
// lease at a time, about a twentieth of a second's allowance, and spends the lease
// locally. Leases are paid for up front, so instances together never admit more than
// the shared budget; a lease not spent within a second is dropped (a subject that moves
// between instances can at worst find a few requests' allowance parked on another).
type LeasedLimiter struct {
	rl        *redis_rate.Limiter
	prefix    string
	limit     redis_rate.Limit
	lease     int
	leaseLife time.Duration
	leases    *lru.Cache[string, *lease]
}

type lease struct {
	mu      sync.Mutex
	tokens  int
	expires time.Time
}

// NewLeasedLimiter returns a LeasedLimiter of perSecond (at least 1) over the store's
// Redis. Its Redis keys are "rate:<prefix>:rk:<subject>" and expire by themselves.
func (s *Store) NewLeasedLimiter(perSecond int) *LeasedLimiter {
	perSecond = max(perSecond, 1)
	leases, _ := lru.New[string, *lease](10000) // only fails for a size below 1
	return &LeasedLimiter{
		rl:        redis_rate.NewLimiter(s.rdb),
		prefix:    s.k.prefix + ":rk:",
		limit:     redis_rate.Limit{Rate: perSecond, Burst: perSecond, Period: time.Second},
		lease:     max(1, perSecond/20),
		leaseLife: time.Second,
		leases:    leases,
	}
}

// Allow takes one request from subject's allowance and reports whether there was one
// and, if not, when to retry. Redis errors wrap model.ErrUnavailable.
func (l *LeasedLimiter) Allow(ctx context.Context, subject string) (bool, time.Duration, error) {
	le, ok := l.leases.Get(subject)
	if !ok {
		le = &lease{}
		if prev, found, _ := l.leases.PeekOrAdd(subject, le); found {
			le = prev
		}
	}
	le.mu.Lock()
	defer le.mu.Unlock()
	now := time.Now()
	if le.tokens > 0 && now.Before(le.expires) {
		le.tokens--
		return true, 0, nil
	}
	res, err := l.rl.AllowAtMost(ctx, l.prefix+subject, l.limit, l.lease)
	if err != nil {
		return false, 0, storeErr("rate limit", err)
	}
	if res.Allowed == 0 {
		le.tokens = 0
		return false, max(res.RetryAfter, time.Millisecond), nil
	}
	le.tokens, le.expires = res.Allowed-1, now.Add(l.leaseLife)
	return true, 0, nil
}
