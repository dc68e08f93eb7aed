package cache

// The event log's edge cases, as an adversarial review of it found them: instances with
// other settings or clocks, quiet tenants, callers who repeat themselves or never read,
// and verify on a live store.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// A poller (or a backend that restarts) after a quiet week has missed nothing: the
// tenant wrote nothing after its last eventId. It is told neither BAD_USER_INPUT nor
// EVENTS_TRIMMED, before the sweep empties the log and after.
func TestResumeAfterAQuietWeekMissesNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		mustCreate(t, b, createIn(demo, "a"))
		last := logged(t, b, demo)[0].EventID
		b.clock.Advance(DefaultEventRetention + time.Hour)

		// Before the sweep and after it: nothing after `last` was lost.
		if _, err := b.store.EventLog(ctx, demo, last, 50); err != nil {
			t.Errorf("quiet week, before the sweep: %v", err)
		}

		if _, err := b.store.Sweep(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if evs, err := b.store.EventLog(ctx, demo, last, 50); err != nil || len(evs) != 0 {
			t.Errorf("quiet week, after the sweep emptied the log: %d events, %v; want none and no error", len(evs), err)
		}
		// A subscription resuming there gets the next write.
		h := startHub(t, b, HubOptions{})
		s, err := h.Subscribe(t.Context(), demo, last, nil)
		if err != nil {
			t.Fatal(err)
		}
		next, _ := mustCreate(t, b, createIn(demo, "b"))
		if ev := recv(t, s); ev.ID != next.ID {
			t.Errorf("resuming after a quiet week: got %d, want the next write %d", ev.ID, next.ID)
		}
	})
}

// An instance with a smaller EVENT_LOG_MAX_LENGTH (a rolling config change) trims the
// log; a resume served by an instance with the larger setting still says
// EVENTS_TRIMMED: the log's cut, not the instance's settings, decides.
func TestTrimmedByAnotherInstancesLengthCapIsReported(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		small := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventLogMaxLength: 5})
		if _, _, err := small.Create(ctx, createIn(demo, "0")); err != nil {
			t.Fatal(err)
		}
		after := logged(t, b, demo)[0].EventID
		for i := 1; i < 8; i++ {
			b.clock.Advance(time.Millisecond)
			if _, _, err := small.Create(ctx, createIn(demo, fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := b.store.EventLog(ctx, demo, after, 50) // default EventLogMaxLength
		if !errors.Is(err, model.ErrEventsTrimmed) {
			t.Errorf("resume after event 0: got %d events (owners %s), %v; want EVENTS_TRIMMED (events 1 and 2 are gone)",
				len(evs), owners(evs), err)
		}
	})
}

// The same with EVENT_RETENTION lowered on one instance.
func TestTrimmedByAnotherInstancesRetentionIsReported(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		short := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventRetention: time.Hour})
		mustCreate(t, b, createIn(demo, "0"))
		after := logged(t, b, demo)[0].EventID
		b.clock.Advance(time.Minute)
		mustCreate(t, b, createIn(demo, "1"))
		b.clock.Advance(2 * time.Hour)
		if _, _, err := short.Create(ctx, createIn(demo, "2")); err != nil {
			t.Fatal(err)
		}
		evs, err := b.store.EventLog(ctx, demo, after, 50)
		if !errors.Is(err, model.ErrEventsTrimmed) {
			t.Errorf("resume after event 0: got owners %s, %v; want EVENTS_TRIMMED (event 1 is gone)", owners(evs), err)
		}
	})
}

func owners(evs []*model.ConnectSessionEvent) string {
	var s []string
	for _, ev := range evs {
		if ev.ConnectSession != nil {
			s = append(s, ev.ConnectSession.OriginOwnerID)
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// Whoever holds a session's token (the end user, not an API key) may authenticate again
// and again: nothing changes after the first, so nothing is written or logged, and the
// project's real events are not pushed out of the log (EVENT_LOG_MAX_LENGTH).
func TestAbuseRepeatedAuthenticateAppendsNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		st := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventLogMaxLength: 5})
		victim, _, err := st.Create(model.WithActor(ctx, "backend"), createIn(demo, "victim"))
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := st.Create(ctx, createIn(demo, "attacker"))
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			b.clock.Advance(time.Millisecond)
			if _, err := st.Authenticate(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		evs, _ := st.EventLog(ctx, demo, "", 50)
		n := 0
		for _, ev := range evs {
			if ev.Type == model.ConnectSessionEventTypeAuthenticated {
				n++
			}
			if ev.ID == victim.ID {
				return
			}
		}
		t.Errorf("10 authenticates of one token left %d AUTHENTICATED events and evicted the victim's CREATED event", n)
	})
}

// An after at the top of the id space is refused (it would wrap nextEventID to "0-0"
// and replay the whole log).
func TestLargestEventIDIsRefused(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		mustCreate(t, b, createIn(demo, "a"))
		evs, err := b.store.EventLog(context.Background(), demo, "18446744073709551615-18446744073709551615", 50)
		var in *model.InputError
		if !errors.As(err, &in) {
			t.Errorf("after the largest id: %d events, %v; want an input error", len(evs), err)
		}
	})
}

// Verify on a live store: a session updated (a label only: no index moves) between the
// log read and the record scan is not a problem.
func TestVerifyDuringWritesReportsNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s, _ := mustCreate(t, b, createIn(demo, "a"))
		var fired atomic.Bool
		b.rdb.AddHook(writeAfterLogRead{fn: func() {
			if fired.CompareAndSwap(false, true) {
				if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
					ProjectID: demo.ProjectID, ID: s.ID, Label: model.Set(ptr("concurrent"))}); err != nil {
					t.Error(err)
				}
			}
		}})
		rep, err := b.store.Verify(ctx, &demo, false)
		if err != nil {
			t.Fatal(err)
		}
		if !fired.Load() {
			t.Fatal("hook did not fire")
		}
		if len(rep.Problems) != 0 {
			t.Errorf("verify during ordinary writes reports %+v", rep.Problems)
		}
	})
}

// writeAfterLogRead runs fn once verify has read the log and before it scans records:
// right after the first XRANGE of a log (on a cluster too, where scans go node by node).
type writeAfterLogRead struct{ fn func() }

func (writeAfterLogRead) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h writeAfterLogRead) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "xrange" {
			if key, ok := cmd.Args()[1].(string); ok && strings.HasSuffix(key, "}:log") {
				h.fn()
			}
		}
		return err
	}
}
func (writeAfterLogRead) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func must2[A, B any](a A, _ B, err error) A {
	if err != nil {
		panic(err)
	}
	return a
}

// Replay batches are per subscription (live events are shared between subscribers, a
// replay batch is not): a read key that opens many subscriptions with an old `after`
// and never reads makes each hold what it read, which replayBytes bounds.
func TestAbuseStalledResumesHoldLittle(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		if !b.real {
			t.Skip("on a real Redis, so that the heap measured is the service's")
		}
		ctx := context.Background()
		in := createIn(demo, "big")
		in.Metadata = model.JSON(`{"k":"` + strings.Repeat("x", 8<<10-8) + `"}`)
		s := must2(b.store.Create(ctx, in))
		for i := range 120 {
			if _, err := b.store.Update(ctx, &model.SessionUpdate{OrganizationID: demo.OrganizationID,
				ProjectID: demo.ProjectID, ID: s.ID, Label: model.Set(ptr(fmt.Sprint(i)))}); err != nil {
				t.Fatal(err)
			}
		}
		first := logged(t, b, demo)[0].EventID
		h := startHub(t, b, HubOptions{})
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const subs = 50
		for range subs {
			if _, err := h.Subscribe(t.Context(), demo, first, nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond) // each forward reads its first batch and blocks sending it
		runtime.GC()
		runtime.ReadMemStats(&m1)
		per := (int64(m1.HeapAlloc) - int64(m0.HeapAlloc)) / subs
		t.Logf("%d stalled resuming subscriptions hold %d KB of heap each; x API_KEY_MAX_SUBSCRIPTIONS (1000) = %d MB per key per instance",
			subs, per>>10, per*1000>>20)
		if per > 256<<10 {
			t.Errorf("%d KB held per stalled subscription", per>>10)
		}
	})
}

// Two instances whose clocks differ write concurrently while a resumed subscriber reads
// slowly: it must get the log after its resume point exactly once, in order.
func TestResumeSeamWithSkewedClocks(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ahead := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: func() time.Time { return b.clock.Now().Add(3 * time.Second) }})
		h := startHub(t, b, HubOptions{Buffer: 3})
		mustCreate(t, b, createIn(demo, "seed"))
		from := logged(t, b, demo)[0].EventID
		const total = 400
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range total {
				st := b.store
				if i%3 == 0 {
					st = ahead
				}
				if _, _, err := st.Create(context.Background(), createIn(demo, fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					b.clock.Advance(time.Millisecond)
				}
			}
		}()
		s, err := h.Subscribe(t.Context(), demo, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := 0; i < total; i++ {
			got = append(got, recv(t, s).EventID)
			if i%7 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		<-done
		all := logged(t, b, demo)
		if want := eventIDs(all[1:]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %d, log has %d: %s", len(got), len(want), firstDiff(got, want))
		}
		select {
		case ev := <-s.Events:
			t.Fatalf("extra %s", ev.EventID)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// Verify on normal data: a log trimmed by its length inside one millisecond (a burst, or
// CreateBatch, which gives a whole batch one time) leaves records whose event was
// trimmed in the millisecond of the oldest kept; they are not problems.
func TestVerifyAfterALengthTrimReportsNothing(t *testing.T) {
	each(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		st := New(b.rdb, Options{Prefix: b.store.k.prefix, Now: b.clock.Now, EventLogMaxLength: 5})
		for i := range 8 {
			if _, _, err := st.Create(ctx, createIn(demo, fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := st.Verify(ctx, &demo, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 {
			t.Errorf("verify after an ordinary length trim reports %d problems: %+v", len(rep.Problems), rep.Problems[0])
		}
	})
}
