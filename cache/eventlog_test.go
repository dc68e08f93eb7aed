package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectsession/graph/model"
)

// logged returns every event of tn's log, oldest first.
func logged(t *testing.T, b *backend, tn model.Tenant) []*model.ConnectSessionEvent {
	t.Helper()
	var all []*model.ConnectSessionEvent
	after := ""
	for {
		evs, err := b.store.EventLog(context.Background(), tn, after, MaxEventLogPage)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
		if len(evs) < MaxEventLogPage {
			return all
		}
		after = evs[len(evs)-1].EventID
	}
}

func eventIDs(evs []*model.ConnectSessionEvent) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.EventID
	}
	return ids
}

func TestEveryChangeAppendsOneEventWithItsActor(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		// The log keeps events longer than sessions here, to see the retention's removal.
		b.store = New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventRetention: 2 * DefaultRetention})
		ctx := model.WithActor(context.Background(), "key1")
		start := b.clock.Now()
		s, token, err := b.store.Create(ctx, createIn(demo, "owner"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID, ProjectID: demo.ProjectID,
			ID: s.ID, Label: model.Set(ptr("renamed"))}); err != nil {
			t.Fatal(err)
		}
		// A token's exchange has no API key behind it.
		if _, err := b.store.Authenticate(context.Background(), token); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Revoke(model.WithActor(ctx, "key2"), demo, s.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.store.Delete(ctx, demo, s.ID); err != nil || !ok {
			t.Fatalf("delete: %v %v", ok, err)
		}
		// Removal after retention is the service's own, without an actor.
		old, _ := mustCreate(t, b, createIn(demo, "old"))
		b.clock.Advance(DefaultRetention + 2*time.Hour)
		if n, err := b.store.Sweep(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}

		evs := logged(t, b, demo)
		want := []struct {
			typ   model.ConnectSessionEventType
			id    int
			actor string
		}{
			{model.ConnectSessionEventTypeCreated, s.ID, "key1"},
			{model.ConnectSessionEventTypeUpdated, s.ID, "key1"},
			{model.ConnectSessionEventTypeAuthenticated, s.ID, ""},
			{model.ConnectSessionEventTypeRevoked, s.ID, "key2"},
			{model.ConnectSessionEventTypeDeleted, s.ID, "key1"},
			{model.ConnectSessionEventTypeCreated, old.ID, ""},
			{model.ConnectSessionEventTypeDeleted, old.ID, ""},
		}
		if len(evs) != len(want) {
			t.Fatalf("log holds %d events, want %d", len(evs), len(want))
		}
		prev := "0-0"
		for i, w := range want {
			ev := evs[i]
			actor := ""
			if ev.ActorKeyID != nil {
				actor = *ev.ActorKeyID
			}
			if ev.Type != w.typ || ev.ID != w.id || actor != w.actor {
				t.Errorf("event %d: %s %d by %q, want %s %d by %q", i, ev.Type, ev.ID, actor, w.typ, w.id, w.actor)
			}
			if (ev.ConnectSession == nil) != (w.typ == model.ConnectSessionEventTypeDeleted) {
				t.Errorf("event %d (%s): session %v", i, ev.Type, ev.ConnectSession)
			}
			if !model.EventIDLess(prev, ev.EventID) {
				t.Errorf("event %d: id %s not after %s", i, ev.EventID, prev)
			}
			prev = ev.EventID
			// The id starts with the write's time, which is also occurredAt.
			if ms, _, _ := strings.Cut(ev.EventID, "-"); ms != strconv.FormatInt(ev.OccurredAt.UnixMilli(), 10) {
				t.Errorf("event %d: id %s, occurredAt %s", i, ev.EventID, ev.OccurredAt)
			}
		}
		if evs[0].OccurredAt.Before(start) || evs[1].ConnectSession.Label == nil || *evs[1].ConnectSession.Label != "renamed" {
			t.Errorf("update event: %+v", evs[1].ConnectSession)
		}
		// A new store over the same Redis (another instance, or this one restarted) reads
		// the same log.
		again := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now})
		evs2, err := again.EventLog(context.Background(), demo, "", 100)
		if err != nil || fmt.Sprint(eventIDs(evs2)) != fmt.Sprint(eventIDs(evs)) {
			t.Errorf("after a restart: %v %v, want %v", eventIDs(evs2), err, eventIDs(evs))
		}
	})
}

func TestEventLogPagesAfterAnEvent(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		for i := range 10 {
			mustCreate(t, b, createIn(demo, fmt.Sprint(i)))
		}
		all := logged(t, b, demo)
		if len(all) != 10 {
			t.Fatalf("%d events", len(all))
		}
		page, err := b.store.EventLog(ctx, demo, all[3].EventID, 4)
		if err != nil || fmt.Sprint(eventIDs(page)) != fmt.Sprint(eventIDs(all[4:8])) {
			t.Errorf("after the 4th, 4: %v %v, want %v", eventIDs(page), err, eventIDs(all[4:8]))
		}
		if page, err := b.store.EventLog(ctx, demo, all[9].EventID, 50); err != nil || len(page) != 0 {
			t.Errorf("after the newest: %v %v, want none", eventIDs(page), err)
		}
		if page, err := b.store.EventLog(ctx, demo, all[2].EventID, 0); err != nil || len(page) != 0 {
			t.Errorf("first 0: %v %v", page, err)
		}
		// An id later than the newest would hide the events to come.
		ms, _, _ := model.SplitEventID(all[9].EventID)
		var in *model.InputError
		if _, err := b.store.EventLog(ctx, demo, fmt.Sprintf("%d-0", ms+1), 50); !errors.As(err, &in) {
			t.Errorf("an id after the newest: %v, want an input error", err)
		}
		for _, bad := range []string{"x", "1-", "-1", "1-2-3", "99999999999999999999999-0", " 1-0"} {
			if _, err := b.store.EventLog(ctx, demo, bad, 5); !errors.As(err, &in) {
				t.Errorf("after %q: %v, want an input error", bad, err)
			}
		}
		// Another tenant's log is its own.
		if evs, err := b.store.EventLog(ctx, model.Tenant{OrganizationID: 2, ProjectID: "demo"}, "", 50); err != nil || len(evs) != 0 {
			t.Errorf("other tenant: %v %v", len(evs), err)
		}
	})
}

func TestEventLogIsTrimmedByAgeAndLength(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		mustCreate(t, b, createIn(demo, "a"))
		mustCreate(t, b, createIn(demo, "b"))
		old := logged(t, b, demo)
		b.clock.Advance(DefaultEventRetention + time.Hour)
		mustCreate(t, b, createIn(demo, "c"))
		evs := logged(t, b, demo)
		if len(evs) != 1 || evs[0].ConnectSession.OriginOwnerID != "c" {
			t.Fatalf("after the retention: %d events, want the newest only", len(evs))
		}
		if _, err := b.store.EventLog(ctx, demo, old[0].EventID, 10); !errors.Is(err, model.ErrEventsTrimmed) {
			t.Errorf("after a trimmed event: %v, want ErrEventsTrimmed", err)
		}

		// A tenant that stopped writing is trimmed by the sweep.
		idle := model.Tenant{OrganizationID: 1, ProjectID: "idle"}
		mustCreate(t, b, createIn(idle, "x"))
		b.clock.Advance(DefaultEventRetention + time.Hour)
		if _, err := b.store.Sweep(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if n := b.rdb.XLen(ctx, b.store.k.eventLog(idle)).Val(); n != 0 {
			t.Errorf("idle tenant's log after the sweep: %d events", n)
		}
		if n, ok := b.store.LoggedEvents(); !ok || n != 0 {
			t.Errorf("LoggedEvents after the sweep: %d %v", n, ok)
		}

		// Length: the newest EventLogMaxLength are kept.
		short := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventLogMaxLength: 5})
		tn := model.Tenant{OrganizationID: 1, ProjectID: "short"}
		for i := range 8 {
			if _, _, err := short.Create(ctx, createIn(tn, fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		kept, err := short.EventLog(ctx, tn, "", 100)
		if err != nil || len(kept) != 5 || kept[0].ConnectSession.OriginOwnerID != "3" {
			t.Fatalf("kept %d (%v), want the newest 5", len(kept), err)
		}
		if _, err := short.EventLog(ctx, tn, kept[0].EventID, 10); err != nil {
			t.Errorf("after the oldest kept: %v", err)
		}
		ms, seq, _ := model.SplitEventID(kept[0].EventID)
		before := fmt.Sprintf("%d-%d", ms, seq-1)
		if seq == 0 {
			before = fmt.Sprintf("%d-%d", ms-1, 0)
		}
		if _, err := short.EventLog(ctx, tn, before, 10); err != nil && !errors.Is(err, model.ErrEventsTrimmed) {
			t.Errorf("right before the oldest kept: %v", err)
		}
		trimmedID := fmt.Sprintf("%d-0", ms-1000)
		if _, err := short.EventLog(ctx, tn, trimmedID, 10); !errors.Is(err, model.ErrEventsTrimmed) {
			t.Errorf("after a trimmed one: %v, want ErrEventsTrimmed", err)
		}
	})
}

func TestEventAndChangeAreAtomic(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s, _ := mustCreate(t, b, createIn(demo, "owner"))
		// A log the script cannot append to: the write fails before changing anything.
		logKey := b.store.k.eventLog(demo)
		b.rdb.Del(ctx, logKey)
		b.rdb.Set(ctx, logKey, "not a stream", 0)
		before := dumpKeys(t, b)
		_, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID, ProjectID: demo.ProjectID,
			ID: s.ID, Label: model.Set(ptr("never"))})
		if err == nil {
			t.Fatal("update succeeded without its event")
		}
		if _, err := b.store.Revoke(ctx, demo, s.ID); err == nil {
			t.Fatal("revoke succeeded without its event")
		}
		if after := dumpKeys(t, b); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("a failed write changed keys")
		}
		if got, _ := b.store.Get(ctx, demo, s.ID); got.Label != nil || got.Status == model.ConnectSessionStatusRevoked {
			t.Errorf("the record changed: %+v", got)
		}
		if _, _, err := b.store.Create(ctx, createIn(demo, "new")); err == nil {
			t.Fatal("create succeeded without its event")
		}
		if page, err := b.store.List(ctx, demo, model.ListQuery{}); err != nil || len(page.Nodes) != 1 {
			t.Errorf("after the failed create: %v sessions, %v; want the first only", len(page.Nodes), err)
		}
	})
}

// TestResumeGetsExactlyTheMissedEvents: a subscriber that got N events and went away,
// resuming after the last one it got, receives exactly the M written meanwhile, in
// order, then the live ones.
func TestResumeGetsExactlyTheMissedEvents(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		first, err := h.Subscribe(ctx, demo, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var last *model.ConnectSessionEvent
		for i := range 5 {
			mustCreate(t, b, createIn(demo, fmt.Sprint("n", i)))
			last = recv(t, first)
		}
		cancel()
		var missed []int
		for i := range 7 {
			s, _ := mustCreate(t, b, createIn(demo, fmt.Sprint("m", i)))
			missed = append(missed, s.ID)
		}
		resumed, err := h.Subscribe(t.Context(), demo, last.EventID, nil)
		if err != nil {
			t.Fatal(err)
		}
		prev := last.EventID
		for _, id := range missed {
			ev := recv(t, resumed)
			if ev.ID != id || !model.EventIDLess(prev, ev.EventID) {
				t.Fatalf("got %d (%s), want %d after %s", ev.ID, ev.EventID, id, prev)
			}
			prev = ev.EventID
		}
		s, _ := mustCreate(t, b, createIn(demo, "live"))
		if ev := recv(t, resumed); ev.ID != s.ID {
			t.Fatalf("live: got %d, want %d", ev.ID, s.ID)
		}
		select {
		case ev := <-resumed.Events:
			t.Fatalf("an extra event: %+v", ev)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// TestResumeSeamUnderConcurrentWrites: resuming while writes continue, and reading
// slowly enough that the live buffer overflows, delivers the log's events after the
// resume point exactly once each, in order.
func TestResumeSeamUnderConcurrentWrites(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{Buffer: 4})
		const total = 300
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range total {
				if i == 50 {
					close(started)
				}
				if _, _, err := b.store.Create(context.Background(), createIn(demo, fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		<-started
		from := logged(t, b, demo)[20].EventID
		s, err := h.Subscribe(t.Context(), demo, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := 0; i < total-21; i++ {
			ev := recv(t, s)
			got = append(got, ev.EventID)
			if i%16 == 0 {
				time.Sleep(2 * time.Millisecond) // fall behind the writer now and then
			}
		}
		wg.Wait()
		want, err := b.store.EventLog(context.Background(), demo, from, MaxEventLogPage)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := b.store.EventLog(context.Background(), demo, want[len(want)-1].EventID, MaxEventLogPage)
		want = append(want, rest...)
		if fmt.Sprint(got) != fmt.Sprint(eventIDs(want)) {
			t.Fatalf("resumed subscriber got %d events, the log has %d after the resume point; first difference:\n%s",
				len(got), len(want), firstDiff(got, eventIDs(want)))
		}
		select {
		case ev := <-s.Events:
			t.Fatalf("an extra event: %+v", ev)
		case <-time.After(50 * time.Millisecond):
		}
		if h.Dropped() != 0 {
			t.Errorf("a resumable subscriber was dropped")
		}
	})
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %s vs %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

func TestResumeAfterATrimmedEventEnds(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		h := startHub(t, b, HubOptions{})
		mustCreate(t, b, createIn(demo, "a"))
		mustCreate(t, b, createIn(demo, "a2"))
		old := logged(t, b, demo)[0].EventID
		b.clock.Advance(DefaultEventRetention + time.Hour)
		mustCreate(t, b, createIn(demo, "b")) // trims both: the one after old is gone
		s, err := h.Subscribe(t.Context(), demo, old, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ended(t, s); !errors.Is(err, model.ErrEventsTrimmed) {
			t.Fatalf("ended with %v, want ErrEventsTrimmed", err)
		}
		if _, err := h.Subscribe(t.Context(), demo, "not-an-id", nil); err == nil {
			t.Fatal("a malformed after was accepted")
		}
	})
}
