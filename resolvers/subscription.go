package resolvers

import (
	"context"
	"sync"
)

// A subscription that fails (its key revoked, its reader too slow, Redis gone) ends with
// one last result carrying the error, then completes. That result is not an event: it
// is written by the transport's handler when the event channel closes, from the reason
// the resolver leaves here, so that it has the shape of a failed root field whatever
// the client selected (path [connectSessionEvents], data null) on every transport.

// SubscriptionEnd carries why one subscription ended, from its resolver to the handler
// that writes its results.
type SubscriptionEnd struct {
	mu   sync.Mutex
	err  func() error // the stream's reason, set by the resolver
	told bool
}

type subscriptionEndKey struct{}

// WithSubscriptionEnd returns ctx carrying a new SubscriptionEnd for the subscription
// that runs under it.
func WithSubscriptionEnd(ctx context.Context) (context.Context, *SubscriptionEnd) {
	e := &SubscriptionEnd{}
	return context.WithValue(ctx, subscriptionEndKey{}, e), e
}

// SubscriptionEndFrom returns the SubscriptionEnd of ctx, or nil.
func SubscriptionEndFrom(ctx context.Context) *SubscriptionEnd {
	e, _ := ctx.Value(subscriptionEndKey{}).(*SubscriptionEnd)
	return e
}

// endsWith records, for the handler, where to learn why the subscription under ctx
// ended once its channel is closed.
func endsWith(ctx context.Context, err func() error) {
	if e := SubscriptionEndFrom(ctx); e != nil {
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
	}
}

// Take returns, once, why the subscription failed; nil when it completed normally,
// when its resolver did not run, or on any later call. Call it once the event channel
// is closed.
func (e *SubscriptionEnd) Take() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.told || e.err == nil {
		return nil
	}
	e.told = true
	return e.err()
}
