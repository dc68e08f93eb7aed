package webhooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// An update (a new URL, or disabled) made while a worker is inside a batch applies to the
// batch's next post: the endpoint is read again before each one, so the rest of the
// batch never goes to the old URL, nor to a disabled endpoint.
func TestUpdateMidBatchAppliesToTheNextPost(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		for range 5 {
			r.session()
		}
		moved := newReceiver(t)
		newURL := moved.srv.URL + "/hook"
		r.recv.answer(func(n int) int {
			if n == 1 { // the owner moves the endpoint while the first post is answered
				if _, err := r.store.UpdateWebhookEndpoint(context.Background(), &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, URL: &newURL}); err != nil {
					t.Error(err)
				}
			}
			return 200
		})
		r.round(r.dispatcher(Options{}))
		if n := len(r.recv.ids()); n != 1 {
			t.Errorf("the old URL got %d posts after the update moved the endpoint away, want 1 (the one in flight)", n)
		}
	})
}

func TestDisableMidBatchStopsTheBatch(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		for range 5 {
			r.session()
		}
		off := false
		r.recv.answer(func(n int) int {
			if n == 1 {
				if _, err := r.store.UpdateWebhookEndpoint(context.Background(), &model.WebhookUpdate{Tenant: r.tenant, ID: e.ID, Enabled: &off}); err != nil {
					t.Error(err)
				}
			}
			return 200
		})
		r.round(r.dispatcher(Options{}))
		if n := len(r.recv.ids()); n != 1 {
			t.Errorf("a disabled endpoint got %d posts, want 1 (the one in flight)", n)
		}
	})
}

// A redelivery is taken from its queue before it is posted; a shutdown during the post
// puts it back, so that the next instance sends it.
func TestRedeliveryInterruptedByShutdownIsKept(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.session()
		d := r.dispatcher(Options{})
		r.round(d) // delivered: the endpoint is idle
		ids := r.logIDs()
		ctx, cancel := context.WithCancel(context.Background())
		if err := r.store.QueueWebhookRedelivery(ctx, r.tenant, e.ID, ids[0], 5); err != nil {
			t.Fatal(err)
		}
		r.recv.answer(func(n int) int {
			if n == 2 {
				cancel() // the instance stops while the redelivery is in flight
				time.Sleep(50 * time.Millisecond)
			}
			return 200
		})
		_ = d.Poll(ctx)
		d.wg.Wait()
		r.recv.answer(nil)
		r.round(r.dispatcher(Options{}))
		got := 0
		for _, a := range r.attempts(e.ID) {
			if a.Attempt == 0 {
				got++
			}
		}
		if got == 0 && len(r.recv.ids()) < 3 {
			t.Errorf("the redelivery was lost: no attempt 0 recorded and not sent again (posts %d)", len(r.recv.ids()))
		}
	})
}

// Addresses that embed an IPv4 address, or are otherwise not global unicast, are not
// public.
func TestPublicRefusesEmbeddedAndReservedRanges(t *testing.T) {
	for _, s := range []string{
		"::127.0.0.1",  // IPv4-compatible (deprecated ::/96)
		"::10.0.0.1",   // IPv4-compatible, private
		"2001::1",      // Teredo 2001::/32 embeds an IPv4 address
		"2001:2::1",    // benchmarking 2001:2::/48
		"192.88.99.1",  // 6to4 relay anycast (deprecated)
		"198.51.100.1", // TEST-NET-2
		"203.0.113.1",  // TEST-NET-3
		"192.0.2.1",    // TEST-NET-1
		"5f00::1",      // SRv6 SIDs 5f00::/16
	} {
		if Public(netip.MustParseAddr(s)) {
			t.Errorf("Public(%s) = true", s)
		}
	}
}

// stallStore lets a test act when the dispatcher renews its lease inside a batch, and
// records every cursor it writes.
type stallStore struct {
	*cache.Store
	holds   int
	onRenew func()
	cursors []string
}

func (s *stallStore) HoldWebhook(ctx context.Context, ref cache.WebhookRef, token string, ttl time.Duration) (bool, error) {
	s.holds++
	if s.holds == 2 && s.onRenew != nil {
		s.onRenew()
	}
	return s.Store.HoldWebhook(ctx, ref, token, ttl)
}

func (s *stallStore) RecordWebhook(ctx context.Context, ref cache.WebhookRef, token string, p cache.WebhookProgress) error {
	err := s.Store.RecordWebhook(ctx, ref, token, p)
	if err == nil && p.Cursor != "" {
		s.cursors = append(s.cursors, p.Cursor)
	}
	return err
}

// A worker that lost its lease (it stalled past it) while another instance delivered and
// let go cannot take the lease back inside its batch (the renewal only extends a lease
// it still holds): it neither posts events already delivered, out of order, nor moves
// the cursor back.
func TestStaleWorkerCannotTakeItsLeaseBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		r.endpoint()
		for range 4 {
			r.session()
		}
		r.recv.answer(func(n int) int {
			if n <= 2 {
				time.Sleep(70 * time.Millisecond) // slow, within the timeout: the lease needs renewing before the third
			}
			return 200
		})
		st := &stallStore{Store: r.store}
		st.onRenew = func() {
			time.Sleep(350 * time.Millisecond) // a stall: the lease (3 × 100ms) expires
			r.clock.Advance(350 * time.Millisecond)
			r.recv.answer(nil)
			r.session()
			r.session()
			r.round(r.dispatcher(Options{})) // another instance delivers everything and lets go
		}
		a := r.dispatcher(Options{Timeout: 100 * time.Millisecond})
		a.store = st
		r.round(a)
		log := r.logIDs()
		got := r.recv.ids()
		for i := 1; i < len(got); i++ {
			if model.EventIDLess(got[i], got[i-1]) {
				t.Errorf("received %v, log %v: %s after %s, out of order", got, log, got[i], got[i-1])
				break
			}
		}
		for i := 1; i < len(st.cursors); i++ {
			if model.EventIDLess(st.cursors[i], st.cursors[i-1]) {
				t.Errorf("stale worker recorded cursors %v: moved back", st.cursors)
				break
			}
		}
	})
}

// One endpoint whose URL never answers, with redeliveries queued (a cheap mutation), does
// not keep a delivery slot while other tenants' events wait: a failed redelivery ends the
// worker's turn and pauses the endpoint for WEBHOOK_RETRY_BASE, and an organization has
// at most a quarter of the slots.
func TestAbuseRedeliveriesToASilentURLDoNotStarveOthers(t *testing.T) {
	stop := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(stop)
	rb := redistest.Mini(t, "review")
	r := newRig(t, rb, cache.Options{})
	ctx := context.Background()
	evil := model.Tenant{OrganizationID: 666, ProjectID: "evil"}
	e := &model.WebhookEndpoint{OrganizationID: evil.OrganizationID, ProjectID: evil.ProjectID, URL: silent.URL}
	if err := r.store.CreateWebhookEndpoint(ctx, e, NewSecret(), 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.store.Create(ctx, &model.CreateConnectSessionInput{OrganizationID: evil.OrganizationID, ProjectID: evil.ProjectID, OriginOwnerID: "o", OriginOwnerName: "O"}); err != nil {
		t.Fatal(err)
	}
	last, err := r.store.LastEventID(ctx, evil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := r.store.QueueWebhookRedelivery(ctx, evil, e.ID, last, 20); err != nil {
			t.Fatal(err)
		}
	}
	d := r.dispatcher(Options{Timeout: 200 * time.Millisecond, Concurrency: 1, PollInterval: 10 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // the attacker's endpoint has the slot
	r.endpoint()
	r.session()
	start := time.Now()
	for len(r.recv.ids()) == 0 && time.Since(start) < 3*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Errorf("another tenant's event waited %v behind one endpoint's failing redeliveries (timeout 200ms)", waited.Round(10*time.Millisecond))
	}
}
