package webhooks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// rig is one backend with a store, a settable clock (the store's and the dispatchers'),
// a tenant and a receiver.
type rig struct {
	t      *testing.T
	rb     *redistest.Backend
	store  *cache.Store
	clock  *redistest.Clock
	tenant model.Tenant
	recv   *receiver
}

func newRig(t *testing.T, rb *redistest.Backend, opts cache.Options) *rig {
	t.Helper()
	c := redistest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	if rb.Mini != nil {
		c.Drive(rb.Mini)
	}
	opts.Prefix, opts.Now = rb.Prefix, c.Now
	r := &rig{t: t, rb: rb, store: cache.New(rb.RDB, opts), clock: c, tenant: model.Tenant{OrganizationID: 7, ProjectID: "hooks"}}
	r.recv = newReceiver(t)
	return r
}

// delivery is one request the receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver records what it is posted and answers with status(n) for the n-th request
// (from 1); 200 when status is nil.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(n int) int
}

func newReceiver(t *testing.T) *receiver {
	rv := &receiver{}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.got = append(rv.got, delivery{header: r.Header.Clone(), body: body})
		n, status := len(rv.got), rv.status
		rv.mu.Unlock()
		code := http.StatusOK
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) answer(status func(n int) int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.status = status
}

// ids returns the webhook-id of every request received, in order.
func (rv *receiver) ids() []string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make([]string, len(rv.got))
	for i, d := range rv.got {
		out[i] = d.header.Get("webhook-id")
	}
	return out
}

func (rv *receiver) deliveries() []delivery {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]delivery(nil), rv.got...)
}

// endpoint creates an endpoint for the receiver and returns it with its secret.
func (r *rig) endpoint(types ...model.ConnectSessionEventType) (*model.WebhookEndpoint, string) {
	r.t.Helper()
	e := &model.WebhookEndpoint{OrganizationID: r.tenant.OrganizationID, ProjectID: r.tenant.ProjectID, URL: r.recv.srv.URL + "/hook", EventTypes: types}
	secret := NewSecret()
	if err := r.store.CreateWebhookEndpoint(context.Background(), e, secret, 10); err != nil {
		r.t.Fatal(err)
	}
	return e, secret
}

// session creates a session (a CREATED event) and returns its id.
func (r *rig) session() int {
	r.t.Helper()
	s, _, err := r.store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: r.tenant.OrganizationID,
		ProjectID: r.tenant.ProjectID, OriginOwnerID: "owner", OriginOwnerName: "Owner"})
	if err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(time.Millisecond)
	return s.ID
}

// logIDs returns the ids of every event in the tenant's log, oldest first.
func (r *rig) logIDs() []string {
	r.t.Helper()
	evs, err := r.store.EventLog(context.Background(), r.tenant, "", cache.MaxEventLogPage)
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventID
	}
	return out
}

// dispatcher returns a dispatcher on the rig's clock that may post to the receiver.
func (r *rig) dispatcher(o Options) *Dispatcher {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	o.Client = NewClient(ClientOptions{Policy: Policy{AllowHTTP: true, AllowPrivate: true}, Timeout: o.Timeout})
	o.Now = r.clock.Now
	if o.Backoff.Base == 0 {
		o.Backoff = Backoff{Base: time.Second, Max: 8 * time.Second}
	}
	if o.RetryFor == 0 {
		o.RetryFor = time.Minute
	}
	return NewDispatcher(r.store, o)
}

// round makes d look for work once and waits until its workers are done.
func (r *rig) round(d *Dispatcher) {
	r.t.Helper()
	if err := d.Poll(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	d.wg.Wait()
}

func (r *rig) state(id string) *cache.WebhookState {
	r.t.Helper()
	st, err := r.store.WebhookEndpoint(context.Background(), r.tenant, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *rig) attempts(id string) []*model.WebhookDelivery {
	r.t.Helper()
	ds, err := r.store.WebhookDeliveries(context.Background(), r.tenant, id, 100)
	if err != nil {
		r.t.Fatal(err)
	}
	return ds
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
