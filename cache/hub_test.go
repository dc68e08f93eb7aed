package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// startHub runs a hub over the backend's store until the test ends.
func startHub(t *testing.T, b *backend, opts HubOptions) *Hub {
	t.Helper()
	h := b.store.NewHub(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() {
		_ = h.Close()
		cancel()
		<-done
	})
	return h
}

func recv(t *testing.T, s *model.EventStream) *model.ConnectSessionEvent {
	t.Helper()
	select {
	case ev, ok := <-s.Events:
		if !ok {
			t.Fatalf("subscription closed (%v)", s.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no event within 5s")
	}
	return nil
}

// ended reads s until it is closed, passing over its events, and returns why it ended.
func ended(t *testing.T, s *model.EventStream) error {
	t.Helper()
	for {
		select {
		case _, ok := <-s.Events:
			if !ok {
				return s.Err()
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscription not ended within 5s of its last event")
		}
	}
}

func TestHubDeliversInWriteOrder(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{})
		ctx := t.Context()
		ch, err := h.Subscribe(ctx, demo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		other, err := h.Subscribe(ctx, model.Tenant{OrganizationID: 1, ProjectID: "other"}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for i := range 50 {
			s, _ := mustCreate(t, b, createIn(demo, fmt.Sprint(i)))
			ids = append(ids, s.ID)
		}
		if _, err := b.store.Revoke(ctx, demo, ids[3]); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if ev := recv(t, ch); ev.Type != model.ConnectSessionEventTypeCreated || ev.ID != id || ev.ConnectSession.ID != id {
				t.Fatalf("got %s %d, want CREATED %d", ev.Type, ev.ID, id)
			}
		}
		if ev := recv(t, ch); ev.Type != model.ConnectSessionEventTypeRevoked || ev.ConnectSession.Status != model.ConnectSessionStatusRevoked {
			t.Fatalf("got %+v, want REVOKED", ev)
		}
		select {
		case ev := <-other.Events:
			t.Fatalf("another tenant's subscriber got %+v", ev)
		default:
		}
	})
}

func TestHubSlowSubscriberDoesNotHoldOthers(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		// The buffer absorbs bursts for a reader that keeps up; the slow one never reads.
		const buffer = 32
		h := startHub(t, b, HubOptions{Buffer: buffer})
		ctx := t.Context()
		slow, err := h.Subscribe(ctx, demo, "", nil) // never read until the end
		if err != nil {
			t.Fatal(err)
		}
		fast, err := h.Subscribe(ctx, demo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		const n = 3 * buffer
		got := make(chan int, n)
		go func() {
			for ev := range fast.Events {
				got <- ev.ID
			}
		}()
		// In lockstep with the fast reader, so only the slow one can fall behind.
		for i := range n {
			start := time.Now()
			created, _ := mustCreate(t, b, createIn(demo, fmt.Sprint(i)))
			select {
			case id := <-got:
				if id != created.ID {
					t.Fatalf("fast subscriber: got %d, want %d", id, created.ID)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("fast subscriber got %d of %d events", i, n)
			}
			// A write and its delivery take a few round trips; a stuck subscriber must
			// add nothing to either.
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("write and delivery %d took %v with a stuck subscriber", i, d)
			}
		}
		// The slow one got its buffer's worth, then was closed, with the reason it was
		// ended.
		count := 0
		for range slow.Events {
			count++
		}
		if err := slow.Err(); !errors.Is(err, model.ErrSlowSubscriber) {
			t.Fatalf("slow subscriber ended with %v, want ErrSlowSubscriber", err)
		}
		if count > buffer+2 {
			t.Errorf("slow subscriber received %d results with a buffer of %d", count, buffer)
		}
		if h.Dropped() != 1 {
			t.Errorf("dropped: got %d, want 1", h.Dropped())
		}
	})
}

func TestHubLeaksNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{})
		settle := func() int {
			runtime.GC()
			return runtime.NumGoroutine()
		}
		// One subscription first, so the pub/sub connection exists in the baseline.
		warm, cancelWarm := context.WithCancel(t.Context())
		if _, err := h.Subscribe(warm, demo, "", nil); err != nil {
			t.Fatal(err)
		}
		cancelWarm()
		waitFor(t, func() bool { return h.Active() == 0 })
		numsub := func(tn model.Tenant) int64 {
			name := b.store.k.events(tn)
			if c, ok := b.rdb.(*redis.ClusterClient); ok {
				// Sharded pub/sub: counted by the master owning the channel's slot.
				node, err := c.MasterForKey(t.Context(), name)
				if err != nil {
					t.Fatal(err)
				}
				n, err := node.PubSubShardNumSub(t.Context(), name).Result()
				if err != nil {
					t.Fatal(err)
				}
				return n[name]
			}
			n, err := b.rdb.PubSubNumSub(t.Context(), name).Result()
			if err != nil {
				t.Fatal(err)
			}
			return n[name]
		}
		numsub(demo) // the pool's connection (and miniredis's goroutine for it) belong to the baseline
		baseGoroutines := settle()

		tenants := []model.Tenant{demo, {OrganizationID: 1, ProjectID: "a"}, {OrganizationID: 2, ProjectID: "b"}}
		var cancels []context.CancelFunc
		for i := range 1000 {
			ctx, cancel := context.WithCancel(t.Context())
			cancels = append(cancels, cancel)
			if _, err := h.Subscribe(ctx, tenants[i%len(tenants)], "", func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if h.Active() != 1000 {
			t.Errorf("active: got %d, want 1000", h.Active())
		}
		// One Redis subscription per tenant channel, however many local subscribers.
		for _, tn := range tenants {
			if n := numsub(tn); n != 1 {
				t.Errorf("%v: %d redis subscribers for ~333 local ones, want 1", tn, n)
			}
		}
		for _, cancel := range cancels {
			cancel()
		}
		waitFor(t, func() bool { return h.Active() == 0 })
		if !pollUntil(func() bool { return settle() <= baseGoroutines }) {
			t.Errorf("goroutines after closing 1000 subscriptions: %d, baseline %d", settle(), baseGoroutines)
		}
		for _, tn := range tenants {
			waitFor(t, func() bool { return numsub(tn) == 0 })
		}
	})
}

func pollUntil(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if !pollUntil(cond) {
		t.Fatalf("condition not met within 10s")
	}
}

func TestHubEndsSubscriptionsWhenRecheckFails(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{Recheck: 10 * time.Millisecond})
		revoked := make(chan struct{})
		ch, err := h.Subscribe(t.Context(), demo, "", func(context.Context) error {
			select {
			case <-revoked:
				return model.ErrUnauthenticated
			default:
				return nil
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Err(); err != nil {
			t.Fatalf("an open subscription has ended with %v", err)
		}
		close(revoked)
		if err := ended(t, ch); !errors.Is(err, model.ErrUnauthenticated) {
			t.Fatalf("ended with %v, want the recheck's error", err)
		}
	})
}

func TestHubCloseCompletesSubscriptions(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{})
		ch, err := h.Subscribe(t.Context(), demo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case ev, ok := <-ch.Events:
			if ok || ch.Err() != nil {
				t.Fatalf("got %+v (%v), want the channel closed without an error", ev, ch.Err())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscription not closed")
		}
		if _, err := h.Subscribe(t.Context(), demo, "", nil); !errors.Is(err, model.ErrUnavailable) {
			t.Errorf("subscribe after close: got %v, want ErrUnavailable", err)
		}
	})
}
