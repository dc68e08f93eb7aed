package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
)

// Store is what the Dispatcher needs of the store (cache.Store).
type Store interface {
	ScanWebhooks(ctx context.Context, cursor uint64, count int) ([]cache.WebhookRef, uint64, error)
	WebhooksDue(ctx context.Context, refs []cache.WebhookRef, now time.Time) ([]bool, error)
	HoldWebhook(ctx context.Context, ref cache.WebhookRef, token string, ttl time.Duration) (bool, error)
	ExtendWebhook(ctx context.Context, ref cache.WebhookRef, token string, ttl time.Duration) (bool, error)
	RequeueWebhookRedelivery(ctx context.Context, ref cache.WebhookRef, eventID string) error
	ReleaseWebhook(ctx context.Context, ref cache.WebhookRef, token string) error
	WebhookEndpoint(ctx context.Context, t model.Tenant, id string) (*cache.WebhookState, error)
	RecordWebhook(ctx context.Context, ref cache.WebhookRef, token string, p cache.WebhookProgress) error
	NextWebhookRedelivery(ctx context.Context, ref cache.WebhookRef) (*model.ConnectSessionEvent, error)
	EventLog(ctx context.Context, t model.Tenant, after string, first int) ([]*model.ConnectSessionEvent, error)
}

// Options configure a Dispatcher. The zero value of each field picks its default.
type Options struct {
	// Client posts the deliveries (default NewClient with the zero ClientOptions: https
	// to public addresses only).
	Client *http.Client
	// Timeout is the client's limit on one attempt (default 10s); an endpoint's lease
	// lasts three of them past each renewal, so an instance that stops is replaced by
	// another within that time.
	Timeout time.Duration
	// Backoff spaces an event's attempts (default base DefaultRetryBase, max
	// DefaultRetryMaxDelay).
	Backoff Backoff
	// RetryFor is how long an event is retried from its first failure before its
	// endpoint is disabled (default DefaultRetryFor).
	RetryFor time.Duration
	// Concurrency is how many endpoints this instance delivers to at once (default 16).
	Concurrency int
	// PollInterval is how often the instance looks for endpoints with work (default 1s).
	PollInterval time.Duration
	// Observer, when set, is told of every attempt (for metrics).
	Observer Observer
	Logger   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults of the Options, and of the service's settings.
const (
	DefaultRetryBase     = 5 * time.Second
	DefaultRetryMaxDelay = time.Hour
	DefaultRetryFor      = 24 * time.Hour
	DefaultConcurrency   = 16
	DefaultPollInterval  = time.Second
	DefaultTimeout       = 10 * time.Second
)

// batch is how many events a worker reads from the log at once.
const batch = 20

// scanBatch is how many endpoints one registry read and one due check cover.
const scanBatch = 200

// Observer is told of every delivery attempt: its outcome (OutcomeSuccess, ...) and how
// long it took.
type Observer interface {
	Attempted(outcome string, took time.Duration)
	Disabled()
}

// The outcomes of an attempt.
const (
	OutcomeSuccess = "success"
	OutcomeStatus  = "http_error" // answered, but not 2xx
	OutcomeNetwork = "network_error"
	OutcomeRefused = "refused" // the address is not allowed
)

// Dispatcher delivers every tenant's events to its endpoints. Several instances may run
// one each over the same Redis: an endpoint is delivered by the instance holding its
// lease, one event at a time, in log order.
type Dispatcher struct {
	store Store
	o     Options
	token string // this instance's lease token
	lease time.Duration
	sem   chan struct{}

	mu     sync.Mutex
	active map[cache.WebhookRef]bool
	// perOrg counts the workers of each organization: at most a quarter of the slots
	// (perOrgMax), so that one organization's slow or silent receivers cannot keep every
	// slot busy while other organizations' events wait.
	perOrg    map[int]int
	perOrgMax int
	behind    map[cache.WebhookRef]time.Time // when each known endpoint's oldest pending event occurred
	cursor    uint64                         // where the next look for work starts in the registry
	wg        sync.WaitGroup
}

// NewDispatcher returns a Dispatcher over store; Run starts it.
func NewDispatcher(store Store, o Options) *Dispatcher {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = NewClient(ClientOptions{Timeout: o.Timeout})
	}
	if o.Backoff.Base <= 0 {
		o.Backoff.Base = DefaultRetryBase
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = DefaultRetryMaxDelay
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return &Dispatcher{store: store, o: o, token: hex.EncodeToString(b[:]), lease: 3 * o.Timeout,
		sem: make(chan struct{}, o.Concurrency), active: map[cache.WebhookRef]bool{}, behind: map[cache.WebhookRef]time.Time{},
		perOrg: map[int]int{}, perOrgMax: max(1, o.Concurrency/4)}
}

// Run delivers until ctx ends, then waits for the deliveries in flight to stop and
// lets go of their leases.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.o.PollInterval)
	defer t.Stop()
	for {
		if err := d.Poll(ctx); err != nil && ctx.Err() == nil {
			d.o.Logger.Warn("webhooks: looking for work", "err", err)
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// Poll looks once through the registry for endpoints with work and starts a worker for
// each, as long as this instance has room; where it runs out, the next Poll continues.
func (d *Dispatcher) Poll(ctx context.Context) error {
	for len(d.sem) < cap(d.sem) {
		d.mu.Lock()
		cursor := d.cursor
		d.mu.Unlock()
		refs, next, err := d.store.ScanWebhooks(ctx, cursor, scanBatch)
		if err != nil {
			return err
		}
		due, err := d.store.WebhooksDue(ctx, refs, d.o.Now())
		if err != nil {
			return err
		}
		for i, ref := range refs {
			if due[i] && !d.start(ctx, ref) {
				return nil // full: this batch is looked at again next time
			}
		}
		d.mu.Lock()
		d.cursor = next
		d.mu.Unlock()
		if next == 0 {
			return nil
		}
	}
	return nil
}

// start runs a worker for ref unless one runs already; false when the instance is full.
func (d *Dispatcher) start(ctx context.Context, ref cache.WebhookRef) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active[ref] {
		return true
	}
	select {
	case d.sem <- struct{}{}:
	default:
		return false
	}
	org := ref.Tenant.OrganizationID
	if d.perOrg[org] >= d.perOrgMax {
		<-d.sem
		return true // the organization has its share; its endpoint waits, others go on
	}
	d.active[ref] = true
	d.perOrg[org]++
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.work(ctx, ref)
		d.mu.Lock()
		delete(d.active, ref)
		if d.perOrg[org]--; d.perOrg[org] == 0 {
			delete(d.perOrg, org)
		}
		d.mu.Unlock()
		<-d.sem
	}()
	return true
}

// Lag is how long ago the oldest event still to be delivered, among the endpoints this
// instance delivers to or last saw behind, occurred; 0 when none is behind.
func (d *Dispatcher) Lag() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	var oldest time.Time
	for _, t := range d.behind {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(d.o.Now().Sub(oldest), 0)
}

// Delivering is how many endpoints this instance is delivering to.
func (d *Dispatcher) Delivering() int { return len(d.sem) }

func (d *Dispatcher) setBehind(ref cache.WebhookRef, since time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if since.IsZero() {
		delete(d.behind, ref)
	} else {
		d.behind[ref] = since
	}
}

// work delivers ref's events while it holds the lease and has work, then lets go.
func (d *Dispatcher) work(ctx context.Context, ref cache.WebhookRef) {
	log := d.o.Logger.With("organization", ref.Tenant.OrganizationID, "project", ref.Tenant.ProjectID, "endpoint", ref.ID)
	defer func() {
		// A new context: the lease is let go even when ctx ended (shutdown), so that
		// another instance takes the endpoint over at once.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = d.store.ReleaseWebhook(rctx, ref, d.token)
	}()
	for ctx.Err() == nil {
		more, err := d.step(ctx, ref)
		// A lost lease (another instance delivers now) and a deleted endpoint are no
		// failures: the worker just stops.
		if err != nil && ctx.Err() == nil && !errors.Is(err, cache.ErrWebhookLeaseLost) && !errors.Is(err, model.ErrNotFound) {
			log.Warn("webhooks: delivering", "err", err)
		}
		if !more || err != nil {
			return
		}
	}
}

// step does one unit of an endpoint's work: one redelivery, or the events of one batch
// up to the first failure. It reports whether more may be waiting.
func (d *Dispatcher) step(ctx context.Context, ref cache.WebhookRef) (bool, error) {
	heldUntil := time.Now().Add(d.lease) // measured before asking: the lease ends no earlier
	held, err := d.store.HoldWebhook(ctx, ref, d.token, d.lease)
	if err != nil || !held {
		d.setBehind(ref, time.Time{})
		return false, err
	}
	st, err := d.store.WebhookEndpoint(ctx, ref.Tenant, ref.ID)
	if errors.Is(err, model.ErrNotFound) {
		d.setBehind(ref, time.Time{})
		return false, nil // deleted since the look for work
	}
	if err != nil {
		return false, err
	}
	if !st.Endpoint.Enabled {
		d.setBehind(ref, time.Time{})
		return false, nil
	}
	if d.o.Now().Before(st.NextAt) {
		return false, nil // backing off: a later look for work finds it due
	}
	// Redeliveries first: a caller asked for them, and there are few (the queue is capped).
	ev, err := d.store.NextWebhookRedelivery(ctx, ref)
	if errors.Is(err, model.ErrNotFound) {
		return true, nil // trimmed from the log since it was queued
	}
	if err != nil {
		return false, err
	}
	if ev != nil {
		a := d.attempt(ctx, st, ev, 0)
		if ctx.Err() != nil {
			// Stopping: the redelivery the caller was promised waits for the next instance.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			return false, d.store.RequeueWebhookRedelivery(rctx, ref, ev.EventID)
		}
		p := cache.WebhookProgress{Attempt: a.delivery}
		if !a.ok {
			// Not retried; and the endpoint pauses for WEBHOOK_RETRY_BASE before its next
			// attempt, so that a queue of them to a receiver that never answers does not
			// keep taking a delivery slot.
			p.NotBefore = d.o.Now().Add(d.o.Backoff.Base)
		}
		return a.ok, d.store.RecordWebhook(ctx, ref, d.token, p)
	}
	events, err := d.store.EventLog(ctx, ref.Tenant, st.Cursor, batch)
	if errors.Is(err, model.ErrEventsTrimmed) {
		reason := fmt.Sprintf("disabled at %s: the event log no longer holds the events after %s, which this endpoint had not received yet (EVENT_RETENTION, EVENT_LOG_MAX_LENGTH); enabling it resumes at the oldest event kept",
			dateTime(d.o.Now()), st.Cursor)
		d.disabled()
		d.setBehind(ref, time.Time{})
		// Past a trimmed cursor: re-enabling resumes at what the log still holds.
		return false, d.store.RecordWebhook(ctx, ref, d.token, cache.WebhookProgress{FromOldest: true, Disable: reason})
	}
	if err != nil {
		return false, err
	}
	if len(events) == 0 {
		d.setBehind(ref, time.Time{})
		return false, nil
	}
	d.setBehind(ref, events[0].OccurredAt)
	skipped := "" // the last event passed over by the filter, not yet recorded
	for i, ev := range events {
		if i > 0 {
			// Read the endpoint again before each post: an update (a new URL, secret or
			// filter) or a disable made during the batch applies to the next event.
			fresh, err := d.store.WebhookEndpoint(ctx, ref.Tenant, ref.ID)
			if errors.Is(err, model.ErrNotFound) {
				d.setBehind(ref, time.Time{})
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if !fresh.Endpoint.Enabled {
				d.setBehind(ref, time.Time{})
				return false, nil
			}
			st = fresh
		}
		if !st.Endpoint.Wants(ev.Type) {
			skipped = ev.EventID
			continue
		}
		if skipped != "" {
			if err := d.store.RecordWebhook(ctx, ref, d.token, cache.WebhookProgress{Cursor: skipped}); err != nil {
				return false, err
			}
			skipped = ""
		}
		// The lease must outlast the post and its record: renewed when less than two
		// attempts' time is left of it (the renewal at the top of step gave three).
		if time.Until(heldUntil) < 2*d.o.Timeout {
			if held, err := d.store.ExtendWebhook(ctx, ref, d.token, d.lease); err != nil || !held {
				return false, err
			}
			heldUntil = time.Now().Add(d.lease)
		}
		d.setBehind(ref, ev.OccurredAt)
		a := d.attempt(ctx, st, ev, st.Attempt+1)
		if ctx.Err() != nil {
			return false, nil // shutting down: the event is tried again, here or elsewhere
		}
		if a.ok {
			if err := d.store.RecordWebhook(ctx, ref, d.token, cache.WebhookProgress{Cursor: ev.EventID, Attempt: a.delivery}); err != nil {
				return false, err
			}
			st.Attempt, st.FailingSince = 0, time.Time{}
			continue
		}
		d.o.Logger.Debug("webhooks: attempt failed", "organization", ref.Tenant.OrganizationID, "project", ref.Tenant.ProjectID,
			"endpoint", ref.ID, "event", ev.EventID, "attempt", st.Attempt+1, "error", *a.delivery.Error)
		return false, d.failed(ctx, ref, st, ev, a)
	}
	if skipped != "" {
		if err := d.store.RecordWebhook(ctx, ref, d.token, cache.WebhookProgress{Cursor: skipped}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// failed records a failed attempt at the head event: a retry after the backoff, or,
// once the event has failed for RetryFor, the endpoint disabled.
func (d *Dispatcher) failed(ctx context.Context, ref cache.WebhookRef, st *cache.WebhookState, ev *model.ConnectSessionEvent, a result) error {
	now := d.o.Now()
	since := st.FailingSince
	if since.IsZero() {
		since = now
	}
	n := st.Attempt + 1
	p := cache.WebhookProgress{Attempt: a.delivery, Retry: &cache.WebhookRetry{Attempt: n, FailingSince: since, NextAt: now.Add(d.o.Backoff.Delay(n))}}
	if now.Sub(since) >= d.o.RetryFor {
		p.Disable = fmt.Sprintf("disabled at %s: event %s failed %d attempts since %s (WEBHOOK_RETRY_FOR %s); last: %s",
			dateTime(now), ev.EventID, n, dateTime(since), d.o.RetryFor, *a.delivery.Error)
		d.disabled()
		d.setBehind(ref, time.Time{})
		d.o.Logger.Info("webhooks: endpoint disabled", "organization", ref.Tenant.OrganizationID, "project", ref.Tenant.ProjectID,
			"endpoint", ref.ID, "reason", p.Disable)
	}
	return d.store.RecordWebhook(ctx, ref, d.token, p)
}

func (d *Dispatcher) disabled() {
	if d.o.Observer != nil {
		d.o.Observer.Disabled()
	}
}
