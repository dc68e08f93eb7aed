package redistest

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// A clock that drives a miniredis expires its keys as it advances; one that does not
// leaves the server's TTLs alone.
func TestClockDrivesMiniredis(t *testing.T) {
	ctx := context.Background()
	b := Mini(t, "t")
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	free := NewClock(start)
	if err := b.RDB.Set(ctx, "t:k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	free.Advance(2 * time.Minute)
	if got := free.Now(); !got.Equal(start.Add(2 * time.Minute)) {
		t.Errorf("Now after Advance: got %v", got)
	}
	if n := b.RDB.Exists(ctx, "t:k").Val(); n != 1 {
		t.Errorf("an undriven clock expired a key")
	}
	driven := NewClock(start).Drive(b.Mini)
	driven.Advance(30 * time.Second)
	if n := b.RDB.Exists(ctx, "t:k").Val(); n != 1 {
		t.Errorf("key gone after 30s of its minute")
	}
	driven.Advance(31 * time.Second)
	if n := b.RDB.Exists(ctx, "t:k").Val(); n != 0 {
		t.Errorf("key still there after its minute")
	}
}

func TestGQLErrorExtensions(t *testing.T) {
	var errs []GQLError
	raw := `[{"message":"m","path":["a",1],"extensions":{"code":"BAD_USER_INPUT","field":"input.label"}},{"message":"bare"}]`
	if err := json.Unmarshal([]byte(raw), &errs); err != nil {
		t.Fatal(err)
	}
	if errs[0].Code() != "BAD_USER_INPUT" || errs[0].Field() != "input.label" || len(errs[0].Path) != 2 {
		t.Errorf("first: %+v", errs[0])
	}
	if errs[1].Code() != "" || errs[1].Field() != "" {
		t.Errorf("bare: %+v", errs[1])
	}
}

// Each runs the miniredis subtest always, and the real one only when the environment
// names a Redis (skipping otherwise), each under a prefix of its own.
func TestEach(t *testing.T) {
	var ran []string
	Each(t, func(t *testing.T, b *Backend) {
		ran = append(ran, b.Name)
		if b.Real() == (b.Name == "miniredis") || b.Prefix == "" || b.RDB.Ping(context.Background()).Err() != nil {
			t.Errorf("backend %+v", b)
		}
	})
	want := 1
	if Real(t) != nil {
		want = 2
	}
	if len(ran) != want || ran[0] != "miniredis" {
		t.Errorf("ran %v, want %d backends, miniredis first", ran, want)
	}
}
