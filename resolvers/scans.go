package resolvers

import (
	"context"
	"sync"
	"time"

	"connectsession/graph/model"
)

// ScanOptions configure a ScanGate.
type ScanOptions struct {
	// Concurrency is how many expensive pages of one organization run at once on this
	// instance (<= 0: 1).
	Concurrency int
	// UnitsPerSecond is the page-scan work (the store's units: entries examined,
	// look-ups, chunks counted) one organization may spend per second on this instance,
	// on average; it may spend one second's worth at once (<= 0: no budget).
	UnitsPerSecond int
	// Now is the clock of the budget (nil: time.Now).
	Now func() time.Time
}

// ScanGate bounds what one organization's pages take of Redis, through this instance.
// The organization is the customer: a key never spans two, but one may cover all the
// projects of its organization, so counting per project would let it multiply its
// share by spreading over projects.
//
// Two bounds. Concurrency: a page whose filter combines equality fields, or a count
// over a date range, may spend the store's whole per-call budget in one Redis script
// (a few milliseconds, during which Redis serves nobody else), so at most Concurrency
// of one organization's run at once and the others wait their turn (within the
// request's deadline). Share: every page, cheap or expensive, is charged afterwards the
// units it spent to a token bucket of UnitsPerSecond, so that the organization's share
// of Redis time is bounded, not only how many of its scripts are in flight. While the
// bucket is in debt, expensive pages are refused before they run (RATE_LIMITED with
// retryAfter); cheap pages (about one unit per item of the page) are refused only once
// the debt passes a whole second's budget, which expensive pages cannot cause on their
// own (at most Concurrency of them overdraw it, by at most the store's per-call budget
// each), so an organization that sends expensive pages keeps its ordinary lists.
type ScanGate struct {
	n    int
	rate float64 // units per second; 0: no budget
	now  func() time.Time

	mu      sync.Mutex
	orgs    map[int]*orgScans
	sweepAt int // sweep idle, refilled organizations once orgs grows to this
}

// orgScans is what the gate holds for one organization.
type orgScans struct {
	sem   chan struct{}
	users int // expensive pages holding or waiting for a place
	// tokens is the bucket's balance (negative: in debt) at time at.
	tokens float64
	at     time.Time
}

// NewScanGate returns a gate with the options o.
func NewScanGate(o ScanOptions) *ScanGate {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &ScanGate{n: max(o.Concurrency, 1), rate: float64(max(o.UnitsPerSecond, 0)), now: o.Now,
		orgs: map[int]*orgScans{}, sweepAt: 64}
}

// expensive reports whether a page may spend more than its own size in the store.
func expensive(q model.ListQuery) bool {
	f := q.Filter
	if f.EqualityFields() > 1 {
		return true
	}
	return q.WantCount && f != nil && (f.CreatedAfter != nil || f.CreatedBefore != nil)
}

// enter admits one page of organization org, waiting for a place when it is expensive,
// and returns the function to call with the units the page spent once it is done
// (exactly once). It refuses with a *model.RateLimitError when org's budget is in debt
// (see ScanGate), or when ctx ends while the page waits.
func (g *ScanGate) enter(ctx context.Context, org int, costly bool) (func(units int), error) {
	if !costly && g.rate == 0 {
		return func(int) {}, nil
	}
	g.mu.Lock()
	s := g.org(org)
	if err := g.refuse(s, costly); err != nil {
		g.mu.Unlock()
		return nil, err
	}
	if !costly {
		g.mu.Unlock()
		return func(units int) { g.charge(org, units) }, nil
	}
	s.users++
	g.mu.Unlock()
	leave := func(units int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		s.users--
		g.spend(s, units)
		g.forget(org, s)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		leave(0)
		return nil, &model.RateLimitError{RetryAfter: time.Second}
	}
	// The budget may have run out while this page waited.
	g.mu.Lock()
	err := g.refuse(s, true)
	g.mu.Unlock()
	if err != nil {
		<-s.sem
		leave(0)
		return nil, err
	}
	return func(units int) { <-s.sem; leave(units) }, nil
}

// org returns org's entry, made if needed. g.mu is held.
func (g *ScanGate) org(org int) *orgScans {
	s := g.orgs[org]
	if s == nil {
		s = &orgScans{sem: make(chan struct{}, g.n), tokens: g.rate, at: g.now()}
		g.orgs[org] = s
		if len(g.orgs) >= g.sweepAt {
			g.sweep()
		}
	}
	return s
}

// refill brings s's bucket to now. g.mu is held.
func (g *ScanGate) refill(s *orgScans) {
	now := g.now()
	if d := now.Sub(s.at); d > 0 {
		s.tokens = min(g.rate, s.tokens+d.Seconds()*g.rate)
	}
	s.at = now
}

// refuse says whether a page may start now: an expensive one not while s is in debt, a
// cheap one not while s owes more than a second's budget. g.mu is held.
func (g *ScanGate) refuse(s *orgScans, costly bool) error {
	if g.rate == 0 {
		return nil
	}
	g.refill(s)
	floor := 0.0
	if !costly {
		floor = -g.rate
	}
	if s.tokens >= floor {
		return nil
	}
	wait := time.Duration((floor - s.tokens) / g.rate * float64(time.Second))
	return &model.RateLimitError{RetryAfter: max(wait, time.Millisecond)}
}

// spend takes units from s's bucket. g.mu is held.
func (g *ScanGate) spend(s *orgScans, units int) {
	if g.rate == 0 || units <= 0 {
		return
	}
	g.refill(s)
	s.tokens -= float64(units)
}

// charge takes units from org's bucket after a cheap page.
func (g *ScanGate) charge(org, units int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.org(org)
	g.spend(s, units)
	g.forget(org, s)
}

// forget drops org's entry when it holds nothing: no page in or waiting, and a full
// bucket (one in debt must be remembered). g.mu is held.
func (g *ScanGate) forget(org int, s *orgScans) {
	if s.users == 0 && (g.rate == 0 || s.tokens >= g.rate) {
		delete(g.orgs, org)
	}
}

// sweep drops the entries that hold nothing any more (buckets refilled since their last
// page), so that the map holds only organizations active within about a second; it
// runs when the map has doubled since the last sweep. g.mu is held.
func (g *ScanGate) sweep() {
	for org, s := range g.orgs {
		if s.users == 0 {
			g.refill(s)
			g.forget(org, s)
		}
	}
	g.sweepAt = max(64, 2*len(g.orgs))
}
