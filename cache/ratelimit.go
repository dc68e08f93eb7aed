package cache

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Limiter counts requests against per-minute allowances in Redis (GCRA, through
// redis_rate), so every instance shares one budget per subject. Its keys are
// "rate:<prefix>:rl:<subject>" and expire by themselves.
type Limiter struct {
	store *Store
	rl    *redis_rate.Limiter
}

// NewLimiter returns a Limiter over the store's Redis.
func (s *Store) NewLimiter() *Limiter {
	return &Limiter{store: s, rl: redis_rate.NewLimiter(s.rdb)}
}

// Allow takes one request from subject's allowance of perMinute (burst: the same) and
// reports whether it was available and, if not, when to retry. perMinute <= 0 allows
// everything. Redis errors wrap model.ErrUnavailable.
func (l *Limiter) Allow(ctx context.Context, subject string, perMinute int) (bool, time.Duration, error) {
	if perMinute <= 0 {
		return true, 0, nil
	}
	res, err := l.rl.Allow(ctx, l.store.k.prefix+":rl:"+subject, redis_rate.PerMinute(perMinute))
	if err != nil {
		return false, 0, storeErr("rate limit", err)
	}
	return res.Allowed > 0, res.RetryAfter, nil
}
