package cache

import (
	"context"
	"testing"
	"time"
)

// Two instances (two limiters on one Redis) share one key's budget, a refusal says when
// to retry, other keys are unaffected, and the budget comes back with time.
func TestLeasedLimiterSharesOneBudget(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		const perSecond = 40
		a, c := b.store.NewLeasedLimiter(perSecond), b.store.NewLeasedLimiter(perSecond)
		subject := "k1-" + b.name + time.Now().Format("150405.000000")
		start := time.Now()
		allowed := 0
		var retry time.Duration
		for i := 0; i < 200; i++ {
			l := a
			if i%3 == 2 {
				l = c
			}
			ok, r, err := l.Allow(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				retry = r
				break
			}
			allowed++
		}
		// The burst, plus what the budget regained while the loop ran; leases are paid
		// for up front, so together the instances never take more.
		most := perSecond + int(time.Since(start).Seconds()*perSecond) + 1
		if allowed < perSecond-2*(perSecond/20) || allowed > most {
			t.Errorf("allowed %d before the first refusal, want about %d (at most %d)", allowed, perSecond, most)
		}
		if retry <= 0 || retry > time.Second {
			t.Errorf("retry after %v, want within a second", retry)
		}
		if ok, _, err := c.Allow(ctx, subject+"-other"); err != nil || !ok {
			t.Errorf("another key: got %v %v, want allowed", ok, err)
		}
		time.Sleep(retry + 100*time.Millisecond)
		if ok, _, err := c.Allow(ctx, subject); err != nil || !ok {
			t.Errorf("after the retry delay: got %v %v, want allowed", ok, err)
		}
	})
}
