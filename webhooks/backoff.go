package webhooks

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait before an event's next attempt: exponential from Base, capped at
// Max, with full jitter (a uniform wait up to the bound), so that endpoints failing
// together do not retry together.
type Backoff struct {
	Base, Max time.Duration
}

// Bound is the longest wait after the attempt-th failed attempt (1 for the first):
// Base·2^(attempt-1), at most Max.
func (b Backoff) Bound(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay is the wait after the attempt-th failed attempt: uniform up to Bound (full
// jitter), but at least a tenth of Base, so that a receiver that just failed is not hit
// again at once.
func (b Backoff) Delay(attempt int) time.Duration {
	bound := b.Bound(attempt)
	floor := b.Base / 10
	if bound <= floor {
		return bound
	}
	return floor + rand.N(bound-floor+1)
}
