package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// Every event after the endpoint's creation arrives once, in log order, signed, with
// webhook-id its eventId, and its attempt is recorded.
func TestDeliversEveryEventInOrderSigned(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		r.session() // before the endpoint: not delivered
		e, secret := r.endpoint()
		a, b := r.session(), r.session()
		if _, err := r.store.Revoke(context.Background(), r.tenant, a); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Millisecond)
		if _, err := r.store.Delete(context.Background(), r.tenant, b); err != nil {
			t.Fatal(err)
		}
		r.round(r.dispatcher(Options{}))

		want := r.logIDs()[1:] // all but the first session's CREATED
		if got := r.recv.ids(); !equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		types := []string{"CREATED", "CREATED", "REVOKED", "DELETED"}
		sessions := []int{a, b, a, b}
		for i, d := range r.recv.deliveries() {
			id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
			if got, want := d.header.Get("webhook-signature"), specSignature(t, secret, id, ts, d.body); got != want {
				t.Errorf("delivery %d: signature %q, want %q", i, got, want)
			}
			if ct := d.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("delivery %d: Content-Type %q", i, ct)
			}
			var body struct {
				Type    string          `json:"type"`
				EventID string          `json:"eventId"`
				Data    json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(d.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Type != types[i] || body.EventID != id {
				t.Errorf("delivery %d: type %s eventId %s, want %s %s", i, body.Type, body.EventID, types[i], id)
			}
			var data struct{ ID int }
			_ = json.Unmarshal(body.Data, &data)
			if body.Type == "DELETED" && string(body.Data) != "null" || body.Type != "DELETED" && data.ID != sessions[i] {
				t.Errorf("delivery %d: data %s, want session %d", i, body.Data, sessions[i])
			}
		}
		if st := r.state(e.ID); st.Cursor != want[len(want)-1] || st.Attempt != 0 {
			t.Errorf("cursor %s attempt %d, want %s 0", st.Cursor, st.Attempt, want[len(want)-1])
		}
		attempts := r.attempts(e.ID)
		if len(attempts) != 4 || attempts[0].EventID != want[3] || *attempts[0].Status != 200 || attempts[0].Attempt != 1 || attempts[0].Error != nil {
			t.Errorf("attempts %+v", attempts)
		}
		// Nothing new: another round posts nothing.
		r.round(r.dispatcher(Options{}))
		if n := len(r.recv.ids()); n != 4 {
			t.Errorf("%d deliveries after an idle round, want 4", n)
		}
	})
}

// A failing event holds the endpoint's later events until it succeeds; its retries wait
// for the backoff.
func TestFailingEventHoldsTheLaterOnes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.recv.answer(func(n int) int {
			if n <= 2 {
				return 500
			}
			return 204
		})
		r.session()
		r.session()
		r.session()
		ids := r.logIDs()
		d := r.dispatcher(Options{Backoff: Backoff{Base: time.Second, Max: 4 * time.Second}})

		r.round(d)
		if got := r.recv.ids(); !equal(got, ids[:1]) {
			t.Fatalf("after the first failure delivered %v, want only %v", got, ids[:1])
		}
		st := r.state(e.ID)
		if st.Attempt != 1 || st.FailingSince.IsZero() || !st.NextAt.After(r.clock.Now()) || st.NextAt.After(r.clock.Now().Add(time.Second)) {
			t.Fatalf("state after a failure: %+v (now %s)", st, r.clock.Now())
		}
		r.round(d) // not due yet
		if n := len(r.recv.ids()); n != 1 {
			t.Fatalf("retried before the backoff: %d deliveries", n)
		}
		r.clock.Advance(time.Second)
		r.round(d) // second failure
		r.clock.Advance(2 * time.Second)
		r.round(d) // success, then the rest
		want := []string{ids[0], ids[0], ids[0], ids[1], ids[2]}
		if got := r.recv.ids(); !equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		var attempts []string
		for _, a := range r.attempts(e.ID) {
			s := "none"
			if a.Status != nil {
				s = itoa(*a.Status)
			}
			attempts = append(attempts, a.EventID+"#"+itoa(a.Attempt)+":"+s)
		}
		wantAttempts := []string{ids[2] + "#1:204", ids[1] + "#1:204", ids[0] + "#3:204", ids[0] + "#2:500", ids[0] + "#1:500"}
		if !equal(attempts, wantAttempts) {
			t.Fatalf("attempts %v, want %v", attempts, wantAttempts)
		}
		if st := r.state(e.ID); st.Attempt != 0 || !st.FailingSince.IsZero() || st.Cursor != ids[2] {
			t.Fatalf("state after recovering: %+v", st)
		}
	})
}

// An event that fails for RetryFor disables its endpoint, which says why; enabling it
// again resumes at the failed event.
func TestDisabledAfterTheRetryWindowAndResumed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.recv.answer(func(int) int { return 503 })
		r.session()
		r.session()
		ids := r.logIDs()
		d := r.dispatcher(Options{RetryFor: 10 * time.Second, Backoff: Backoff{Base: time.Second, Max: 2 * time.Second}})
		for range 20 {
			r.round(d)
			r.clock.Advance(2 * time.Second)
		}
		st := r.state(e.ID)
		if st.Endpoint.Enabled || st.Endpoint.DisabledReason == nil {
			t.Fatalf("still enabled after failing for 40s: %+v", st)
		}
		reason := *st.Endpoint.DisabledReason
		for _, part := range []string{ids[0], "HTTP 503", "WEBHOOK_RETRY_FOR"} {
			if !strings.Contains(reason, part) {
				t.Errorf("disabledReason %q does not say %q", reason, part)
			}
		}
		n := len(r.recv.ids())
		for _, id := range r.recv.ids() {
			if id != ids[0] {
				t.Fatalf("delivered %s while %s was failing", id, ids[0])
			}
		}
		// Nothing is tried while disabled.
		r.clock.Advance(time.Hour)
		r.round(d)
		if len(r.recv.ids()) != n {
			t.Fatal("a disabled endpoint was posted to")
		}
		r.recv.answer(nil)
		on := true
		if _, err := r.store.UpdateWebhookEndpoint(context.Background(), &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		r.round(d)
		if got := r.recv.ids()[n:]; !equal(got, ids) {
			t.Fatalf("after enabling delivered %v, want %v", got, ids)
		}
		if st := r.state(e.ID); !st.Endpoint.Enabled || st.Endpoint.DisabledReason != nil {
			t.Fatalf("after enabling: %+v", st.Endpoint)
		}
	})
}

// Events of types the endpoint does not want move its cursor without a post.
func TestEventTypesFilter(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint(model.ConnectSessionEventTypeRevoked)
		a := r.session()
		if _, err := r.store.Revoke(context.Background(), r.tenant, a); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Millisecond)
		r.session()
		ids := r.logIDs()
		r.round(r.dispatcher(Options{}))
		if got := r.recv.ids(); !equal(got, ids[1:2]) {
			t.Fatalf("delivered %v, want only the REVOKED %v", got, ids[1:2])
		}
		if st := r.state(e.ID); st.Cursor != ids[2] {
			t.Fatalf("cursor %s, want past the filtered %s", st.Cursor, ids[2])
		}
	})
}

// An instance that stops holding an endpoint (crashed) keeps it until its lease expires;
// then another takes over from the cursor, and the stopped one can no longer record.
func TestLeaseTakeover(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.session()
		r.session()
		ref := cache.WebhookRef{Tenant: r.tenant, ID: e.ID}
		timeout := 200 * time.Millisecond
		crashed := r.dispatcher(Options{Timeout: timeout})
		ctx := context.Background()
		if ok, err := r.store.HoldWebhook(ctx, ref, crashed.token, crashed.lease); !ok || err != nil {
			t.Fatalf("crashed instance takes the lease: %v %v", ok, err)
		}
		other := r.dispatcher(Options{Timeout: timeout})
		r.round(other)
		if n := len(r.recv.ids()); n != 0 {
			t.Fatalf("delivered %d while another instance held the lease", n)
		}
		// The lease expires: the store's clock drives miniredis; a real server's runs on
		// the wall clock.
		r.clock.Advance(crashed.lease + time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for len(r.recv.ids()) < 2 && time.Now().Before(deadline) {
			r.round(other)
			time.Sleep(20 * time.Millisecond)
		}
		if got, want := r.recv.ids(), r.logIDs(); !equal(got, want) {
			t.Fatalf("the other instance delivered %v, want %v", got, want)
		}
		err := r.store.RecordWebhook(ctx, ref, crashed.token, cache.WebhookProgress{Cursor: "1-0"})
		if !errors.Is(err, cache.ErrWebhookLeaseLost) {
			t.Fatalf("the stopped instance recorded: %v", err)
		}
		if st := r.state(e.ID); st.Cursor != r.logIDs()[1] {
			t.Fatalf("cursor %s moved by a stale instance", st.Cursor)
		}
	})
}

// redeliverWebhookEvent's queue: one more post of a logged event, outside the order,
// recorded as attempt 0; an event not in the log is refused, and the queue is bounded.
func TestRedelivery(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint(model.ConnectSessionEventTypeRevoked)
		r.session()
		ids := r.logIDs()
		d := r.dispatcher(Options{})
		r.round(d)
		if n := len(r.recv.ids()); n != 0 {
			t.Fatalf("the filter let %d through", n)
		}
		ctx := context.Background()
		if err := r.store.QueueWebhookRedelivery(ctx, r.tenant, e.ID, ids[0], 2); err != nil {
			t.Fatal(err)
		}
		r.round(d)
		if got := r.recv.ids(); !equal(got, ids) {
			t.Fatalf("redelivered %v, want %v (whatever the filter)", got, ids)
		}
		if a := r.attempts(e.ID); len(a) != 1 || a[0].Attempt != 0 || a[0].EventID != ids[0] {
			t.Fatalf("attempts %+v, want one attempt 0", a)
		}
		if err := r.store.QueueWebhookRedelivery(ctx, r.tenant, e.ID, "1-0", 2); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("an event not in the log: %v", err)
		}
		if err := r.store.QueueWebhookRedelivery(ctx, r.tenant, "we_unknown", ids[0], 2); !errors.Is(err, model.ErrWebhookEndpointNotFound) {
			t.Fatalf("an unknown endpoint: %v", err)
		}
	})
}

// An endpoint whose events were trimmed from the log before it received them is
// disabled and says so; enabled again, it resumes at the oldest event kept.
func TestTrimmedEventsDisableTheEndpoint(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{EventLogMaxLength: 3})
		r.session()
		e, _ := r.endpoint()
		off := false
		ctx := context.Background()
		if _, err := r.store.UpdateWebhookEndpoint(ctx, &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		for range 6 {
			r.session()
		}
		on := true
		if _, err := r.store.UpdateWebhookEndpoint(ctx, &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		d := r.dispatcher(Options{})
		r.round(d)
		st := r.state(e.ID)
		if st.Endpoint.Enabled || st.Endpoint.DisabledReason == nil || !strings.Contains(*st.Endpoint.DisabledReason, "no longer holds") {
			t.Fatalf("after its events were trimmed: %+v", st.Endpoint)
		}
		if n := len(r.recv.ids()); n != 0 {
			t.Fatalf("delivered %d past a gap", n)
		}
		if _, err := r.store.UpdateWebhookEndpoint(ctx, &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		r.round(d)
		if got, want := r.recv.ids(), r.logIDs(); !equal(got, want) {
			t.Fatalf("after enabling again delivered %v, want the log's %v", got, want)
		}
	})
}

// An endpoint that caught up and then saw nothing for longer than the log's retention
// is not disabled by the next event: only its own delivered event was trimmed.
func TestIdleEndpointOutlivesTheRetention(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{EventRetention: time.Hour})
		e, _ := r.endpoint()
		r.session()
		d := r.dispatcher(Options{})
		r.round(d)
		r.clock.Advance(2 * time.Hour)
		r.session() // its append trims the first event by age
		r.round(d)
		if st := r.state(e.ID); !st.Endpoint.Enabled {
			t.Fatalf("disabled: %s", *st.Endpoint.DisabledReason)
		}
		if n := len(r.recv.ids()); n != 2 {
			t.Fatalf("%d deliveries, want 2", n)
		}
	})
}

// An instance that stops mid-delivery lets go of the lease at once and records nothing
// for the interrupted post: another instance delivers that event again, without waiting
// for the lease to expire.
func TestStoppingLetsGoOfTheLease(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.session()
		hold := make(chan struct{})
		r.recv.answer(func(n int) int {
			if n == 1 {
				<-hold
			}
			return 200
		})
		defer close(hold)
		d := r.dispatcher(Options{Timeout: 10 * time.Second, PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { d.Run(ctx); close(stopped) }()
		deadline := time.Now().Add(5 * time.Second)
		for len(r.recv.ids()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		ref := cache.WebhookRef{Tenant: r.tenant, ID: e.ID}
		if ok, err := r.store.HoldWebhook(context.Background(), ref, "next", time.Minute); !ok || err != nil {
			t.Fatalf("the lease is still held after a stop: %v %v", ok, err)
		}
		if err := r.store.ReleaseWebhook(context.Background(), ref, "next"); err != nil {
			t.Fatal(err)
		}
		if st := r.state(e.ID); st.Cursor != "" || len(r.attempts(e.ID)) != 0 {
			t.Fatalf("the interrupted post was recorded: cursor %q, attempts %d", st.Cursor, len(r.attempts(e.ID)))
		}
		r.round(r.dispatcher(Options{}))
		if got, want := r.recv.ids(), []string{r.logIDs()[0], r.logIDs()[0]}; !equal(got, want) {
			t.Fatalf("delivered %v, want the interrupted event again %v", got, want)
		}
	})
}

// A deleted endpoint gets nothing more, and a registry member left behind by a delete
// that failed halfway is skipped without a trace.
func TestDeletedEndpointGetsNothing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.session()
		ctx := context.Background()
		if ok, err := r.store.DeleteWebhookEndpoint(ctx, r.tenant, e.ID); !ok || err != nil {
			t.Fatalf("delete: %v %v", ok, err)
		}
		// As if the delete had stopped before the registry.
		if err := rb.RDB.SAdd(ctx, rb.Prefix+":webhooks", e.ID+":7:hooks").Err(); err != nil {
			t.Fatal(err)
		}
		before := redistest.Snapshot(t, rb.RDB, rb.Prefix)
		r.round(r.dispatcher(Options{}))
		if n := len(r.recv.ids()); n != 0 {
			t.Fatalf("a deleted endpoint got %d deliveries", n)
		}
		after := redistest.Snapshot(t, rb.RDB, rb.Prefix)
		if len(after) != len(before) {
			t.Fatalf("looking at a deleted endpoint left keys: %d -> %d", len(before), len(after))
		}
	})
}

// After a rotation, deliveries carry a signature with the new secret and one with the
// old, for SecretOverlap: a receiver that still has the old secret keeps verifying.
func TestRotationSignsWithBothSecretsForAWhile(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, old := r.endpoint()
		fresh := NewSecret()
		if _, err := r.store.RotateWebhookSecret(context.Background(), r.tenant, e.ID, fresh, SecretOverlap); err != nil {
			t.Fatal(err)
		}
		r.session()
		d := r.dispatcher(Options{})
		r.round(d)
		r.clock.Advance(SecretOverlap)
		r.session()
		r.round(d)
		got := r.recv.deliveries()
		if len(got) != 2 {
			t.Fatalf("%d deliveries, want 2", len(got))
		}
		sign := func(secret string, dl delivery) string {
			return specSignature(t, secret, dl.header.Get("webhook-id"), dl.header.Get("webhook-timestamp"), dl.body)
		}
		if h, want := got[0].header.Get("webhook-signature"), sign(fresh, got[0])+" "+sign(old, got[0]); h != want {
			t.Errorf("during the overlap: %q, want %q", h, want)
		}
		if h, want := got[1].header.Get("webhook-signature"), sign(fresh, got[1]); h != want {
			t.Errorf("after the overlap: %q, want %q", h, want)
		}
	})
}
