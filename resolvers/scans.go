package resolvers

import (
	"context"
	"sync"
	"time"

	"connectsession/graph/model"
)

// ScanGate lets at most a few expensive pages of one tenant run at a time on this
// instance. A page whose filter combines equality fields, or a count over a date range,
// may spend the store's whole scan budget in one Redis script (a few milliseconds, during
// which Redis serves nobody else); the budget bounds one call, the gate bounds how many
// of them one tenant keeps in Redis at once, so that another tenant's reads wait behind
// at most a few of them. Further calls wait their turn (within the request's deadline).
type ScanGate struct {
	n     int
	mu    sync.Mutex
	slots map[model.Tenant]*scanSlot
}

type scanSlot struct {
	sem   chan struct{}
	users int // holders and waiters: the slot goes when none is left
}

// NewScanGate returns a gate of n concurrent expensive pages per tenant (n <= 0: 1).
func NewScanGate(n int) *ScanGate {
	return &ScanGate{n: max(n, 1), slots: map[model.Tenant]*scanSlot{}}
}

// expensive reports whether a page may spend more than its own size in the store.
func expensive(q model.ListQuery) bool {
	f := q.Filter
	if equalityFilters(f) > 1 {
		return true
	}
	return q.WantCount && f != nil && (f.CreatedAfter != nil || f.CreatedBefore != nil)
}

// enter waits for one of t's places and returns the function that gives it back. When
// ctx ends first, it returns a *model.RateLimitError.
func (g *ScanGate) enter(ctx context.Context, t model.Tenant) (func(), error) {
	g.mu.Lock()
	s := g.slots[t]
	if s == nil {
		s = &scanSlot{sem: make(chan struct{}, g.n)}
		g.slots[t] = s
	}
	s.users++
	g.mu.Unlock()
	leave := func() {
		g.mu.Lock()
		if s.users--; s.users == 0 {
			delete(g.slots, t)
		}
		g.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, &model.RateLimitError{RetryAfter: time.Second}
	}
}
