package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"connectsession/internal/sizedlru"
)

// DefaultAPQTTL is how long a registered persisted query is kept in Redis after its
// registration unless configured otherwise.
const DefaultAPQTTL = 24 * time.Hour

// APQ is the store of automatic persisted queries (Apollo's protocol): SHA-256 hash →
// query text, in Redis under the key prefix with a TTL so every instance shares the
// registrations, with an in-process LRU in front (a hash names its text for good, so a
// cached entry never goes stale). It implements gqlgen's graphql.Cache[string].
type APQ struct {
	store *Store
	ttl   time.Duration
	local *sizedlru.Cache[string, string]
	log   *slog.Logger
	// quota is each subject's allowance of registrations (LimitRegistrations; nil: none).
	quota *redis_rate.Limiter
	limit redis_rate.Limit
	// loggedRefusal is when a refused registration was last logged (unix nanoseconds),
	// so that a key spending its allowance in a loop logs once a minute, not per request.
	loggedRefusal atomic.Int64

	hits, misses, errors, refused atomic.Int64
}

// NewAPQ returns the persisted-query store; ttl <= 0 means DefaultAPQTTL. Its
// in-process copy holds at most 2,048 queries and localBytes of query text (<= 0: 8 MiB).
func (s *Store) NewAPQ(ttl time.Duration, localBytes int64) *APQ {
	if ttl <= 0 {
		ttl = DefaultAPQTTL
	}
	if localBytes <= 0 {
		localBytes = 8 << 20
	}
	local := sizedlru.New[string, string](2048, localBytes, nil)
	return &APQ{store: s, ttl: ttl, local: local, log: s.log}
}

func (k keys) apq(hash string) string { return k.prefix + ":apq:" + hash }

// validHash reports whether h is a lower-case hex SHA-256, the only thing worth looking up.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Get returns the query registered under hash. A Redis error counts as a miss (the
// client then sends the full query) and is logged and counted.
func (a *APQ) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := a.local.Get(hash); ok {
		a.hits.Add(1)
		return q, true
	}
	if !validHash(hash) {
		a.misses.Add(1)
		return "", false
	}
	q, err := a.store.rdb.Get(ctx, a.store.k.apq(hash)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		a.misses.Add(1)
		return "", false
	case err != nil:
		a.errors.Add(1)
		a.misses.Add(1)
		a.log.WarnContext(ctx, "persisted query lookup failed; treated as a miss", "err", err)
		return "", false
	}
	a.local.Add(hash, q, int64(len(q)))
	a.hits.Add(1)
	return q, true
}

// Add registers query under hash (gqlgen has checked that the hash matches). A Redis
// error is logged and counted; the request runs anyway with the text it carries.
func (a *APQ) Add(ctx context.Context, hash, query string) {
	a.local.Add(hash, query, int64(len(query)))
	if err := a.store.rdb.Set(ctx, a.store.k.apq(hash), query, a.ttl).Err(); err != nil {
		a.errors.Add(1)
		a.log.WarnContext(ctx, "persisted query not stored in redis; other instances will ask for it again", "err", err)
	}
}

// LimitRegistrations bounds what Register stores for one subject to perHour
// registrations an hour (burst: as many), counted in Redis so that every instance shares
// the allowance (GCRA through redis_rate; key "rate:<prefix>:apqq:<subject>", which
// expires by itself). perHour <= 0 leaves registrations unbounded.
func (a *APQ) LimitRegistrations(perHour int) {
	if perHour <= 0 {
		a.quota = nil
		return
	}
	a.quota = redis_rate.NewLimiter(a.store.rdb)
	a.limit = redis_rate.Limit{Rate: perHour, Burst: perHour, Period: time.Hour}
}

// Register stores query under hash on behalf of subject (an API key), within the
// subject's allowance (LimitRegistrations). It reports whether the query is now
// registered. A hash this instance already holds costs nothing. Past the allowance, or
// when Redis cannot count it, nothing is stored: the request still runs with the text it
// carries, and the client's next hash-only request is answered PERSISTED_QUERY_NOT_FOUND
// and sends the text again. Refusals are counted (Refused) and logged at most once a
// minute.
func (a *APQ) Register(ctx context.Context, subject, hash, query string) bool {
	if _, ok := a.local.Get(hash); ok {
		return true
	}
	if a.quota != nil {
		res, err := a.quota.Allow(ctx, a.store.k.prefix+":apqq:"+subject, a.limit)
		if err != nil {
			a.errors.Add(1)
			a.log.WarnContext(ctx, "persisted query not registered: its quota could not be checked", "err", err)
			return false
		}
		if res.Allowed == 0 {
			a.refused.Add(1)
			now := time.Now().UnixNano()
			if last := a.loggedRefusal.Load(); now-last >= int64(time.Minute) && a.loggedRefusal.CompareAndSwap(last, now) {
				a.log.WarnContext(ctx, "persisted query not registered: the API key used its registrations of the hour",
					"key", subject, "per_hour", a.limit.Rate, "refused_total", a.refused.Load())
			}
			return false
		}
	}
	a.Add(ctx, hash, query)
	return true
}

// Refused returns how many registrations Register refused for a spent allowance.
func (a *APQ) Refused() int64 { return a.refused.Load() }

// Stats returns the hits, misses and Redis errors seen so far.
func (a *APQ) Stats() (hits, misses, errs int64) {
	return a.hits.Load(), a.misses.Load(), a.errors.Load()
}
