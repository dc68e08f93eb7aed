package redistest

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Clock is a settable clock for a store's Options.Now: it moves only when a test
// advances it, so every time the store writes is predictable.
type Clock struct {
	mu sync.Mutex
	t  time.Time
	mr *miniredis.Miniredis
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Drive makes Advance also count mr's TTLs down by the same amount, so keys on a
// miniredis expire as the store's clock says they should. A real server's TTLs follow
// the wall clock and cannot be driven.
func (c *Clock) Drive(mr *miniredis.Miniredis) *Clock {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mr = mr
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (backwards when d is negative) and, when it drives a
// miniredis, that server's TTLs too.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	mr := c.mr
	c.mu.Unlock()
	if mr != nil {
		mr.FastForward(d)
	}
}
