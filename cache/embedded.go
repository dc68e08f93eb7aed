package cache

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-memory Redis inside the process, for development and tests. Its
// data is lost when the process ends.
type Embedded struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartEmbedded starts an in-memory Redis on a free loopback port. miniredis does not
// count expirations down by itself, so a ticker moves its clock along with the real one
// (every tick), which makes token keys expire as they would on a real server.
func StartEmbedded(tick time.Duration) (*Embedded, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, fmt.Errorf("cache: start embedded redis: %w", err)
	}
	e := &Embedded{mr: mr, stop: make(chan struct{})}
	mr.SetTime(time.Now())
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		last := time.Now()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case now := <-t.C:
				mr.SetTime(now)
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return e, nil
}

// Addr is the host:port the embedded server listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// Close stops the clock and the server.
func (e *Embedded) Close() {
	close(e.stop)
	e.wg.Wait()
	e.mr.Close()
}
