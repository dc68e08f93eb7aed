package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// killNamed kills every connection named name on every master; it returns how many.
func killNamed(t *testing.T, rdb redis.UniversalClient, name string) int {
	t.Helper()
	var killed atomic.Int64
	kill := func(ctx context.Context, c *redis.Client) error {
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(list, "\n") {
			fields := strings.Fields(line)
			var id string
			named := false
			for _, f := range fields {
				if v, ok := strings.CutPrefix(f, "id="); ok {
					id = v
				}
				if f == "name="+name {
					named = true
				}
			}
			if named && id != "" {
				if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err == nil {
					killed.Add(1)
				}
			}
		}
		return nil
	}
	ctx := context.Background()
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, kill)
	case *redis.Client:
		err = kill(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return int(killed.Load())
}

// TestHubConnectionBreak kills the hub's Redis connections (on a cluster: its sharded
// pub/sub connections) and checks that subscriptions end with ErrUnavailable and that a
// new subscription then works. It needs a real Redis (miniredis has no CLIENT KILL), and
// skips, saying so, without one.
func TestHubConnectionBreak(t *testing.T) {
	b := newBackend(redistest.NeedReal(t))
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	name := "hubbreak-" + hex.EncodeToString(raw[:])
	store := New(redistest.NamedFromEnv(t, name), Options{Prefix: b.store.k.prefix, Now: b.clock.Now})
	h := store.NewHub(HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { _ = h.Close(); cancel(); <-done })

	other := model.Tenant{OrganizationID: 7, ProjectID: "other"}
	chans := map[model.Tenant]*model.EventStream{}
	for _, tn := range []model.Tenant{demo, other} {
		ch, err := h.Subscribe(t.Context(), tn, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := mustCreate(t, b, createIn(tn, "before"))
		if ev := recv(t, ch); ev.ID != s.ID {
			t.Fatalf("before the break: got %+v", ev)
		}
		chans[tn] = ch
	}
	if n := killNamed(t, b.rdb, name); n == 0 {
		t.Fatalf("no connection named %s found", name)
	}
	for tn, ch := range chans {
		if err := ended(t, ch); !errors.Is(err, model.ErrUnavailable) {
			t.Fatalf("%v after the break: ended with %v, want ErrUnavailable", tn, err)
		}
	}
	// Subscribing again works once Redis answers (at once here).
	deadline := time.Now().Add(5 * time.Second)
	var ch *model.EventStream
	for {
		var err error
		if ch, err = h.Subscribe(t.Context(), demo, "", nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribe after the break: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, _ := mustCreate(t, b, createIn(demo, "after"))
	if ev := recv(t, ch); ev.ID != s.ID {
		t.Fatalf("after the break: got %+v, want CREATED %d", ev, s.ID)
	}
}
