package webhooks

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	b := Backoff{Base: 5 * time.Second, Max: time.Hour}
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {10, 2560 * time.Second}, {11, time.Hour}, {1000, time.Hour}} {
		if got := b.Bound(c.attempt); got != c.want {
			t.Errorf("Bound(%d) = %s, want %s", c.attempt, got, c.want)
		}
	}
	for _, attempt := range []int{1, 2, 5, 20} {
		bound := b.Bound(attempt)
		lo, hi := bound, time.Duration(0)
		for range 2000 {
			d := b.Delay(attempt)
			if d < b.Base/10 || d > bound {
				t.Fatalf("Delay(%d) = %s, outside [%s, %s]", attempt, d, b.Base/10, bound)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter: the draws spread over the whole range, not around one value.
		if lo > bound/4 || hi < bound*3/4 {
			t.Errorf("Delay(%d) drew only within [%s, %s] of [%s, %s]", attempt, lo, hi, b.Base/10, bound)
		}
	}
}
