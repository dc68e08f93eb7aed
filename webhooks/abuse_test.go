package webhooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/internal/redistest"
)

// TestAbuseRedeliveryQueueIsBounded: a caller cannot queue more than the limit of
// redeliveries for one endpoint, however often it asks.
func TestAbuseRedeliveryQueueIsBounded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.session()
		id := r.logIDs()[0]
		ctx := context.Background()
		refused := 0
		for range 50 {
			err := r.store.QueueWebhookRedelivery(ctx, r.tenant, e.ID, id, 5)
			var limited *model.RateLimitError
			if errors.As(err, &limited) {
				refused++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if refused != 45 {
			t.Fatalf("%d of 50 refused, want 45", refused)
		}
		n, err := rb.RDB.LLen(ctx, rb.Prefix+":{7:hooks}:whr:"+e.ID).Result()
		if err != nil || n != 5 {
			t.Fatalf("queue holds %d (%v), want 5", n, err)
		}
	})
}

// TestAbuseAttemptsKeptAreBounded: an endpoint that always fails keeps only its last
// WebhookAttemptsKept attempts.
func TestAbuseAttemptsKeptAreBounded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rb *redistest.Backend) {
		r := newRig(t, rb, cache.Options{})
		e, _ := r.endpoint()
		r.recv.answer(func(int) int { return 500 })
		r.session()
		d := r.dispatcher(Options{RetryFor: 24 * time.Hour, Backoff: Backoff{Base: time.Millisecond, Max: time.Millisecond}})
		for range cache.WebhookAttemptsKept + 20 {
			r.round(d)
			r.clock.Advance(time.Millisecond)
		}
		n, err := rb.RDB.LLen(context.Background(), rb.Prefix+":{7:hooks}:wha:"+e.ID).Result()
		if err != nil || n != cache.WebhookAttemptsKept {
			t.Fatalf("attempts kept %d (%v), want %d", n, err, cache.WebhookAttemptsKept)
		}
		if got := len(r.recv.ids()); got != cache.WebhookAttemptsKept+20 {
			t.Fatalf("%d attempts made, want %d", got, cache.WebhookAttemptsKept+20)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestAbuseSlowReceivers: an endpoint is the cheapest way to make the service wait (a
// receiver that never answers, or answers without end). Each attempt ends at the
// timeout and reads at most maxAnswerBytes of an answer; one instance waits on at most
// Concurrency endpoints at once.
func TestAbuseSlowReceivers(t *testing.T) {
	stop := make(chan struct{})
	endlessDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/endless") {
			defer close(endlessDone)
			w.WriteHeader(http.StatusOK)
			chunk := make([]byte, 4096)
			for {
				if _, err := w.Write(chunk); err != nil {
					return // the client hung up: it reads no more than its cap
				}
				w.(http.Flusher).Flush()
			}
		}
		select { // never answers
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	rb := redistest.Mini(t, "abuse")
	r := newRig(t, rb, cache.Options{})
	ctx := context.Background()
	var silent []string
	for i := range 5 {
		e := &model.WebhookEndpoint{OrganizationID: 7, ProjectID: "hooks", URL: srv.URL + "/silent/" + strconv.Itoa(i)}
		if err := r.store.CreateWebhookEndpoint(ctx, e, NewSecret(), 10); err != nil {
			t.Fatal(err)
		}
		silent = append(silent, e.ID)
	}
	// Another organization's: an organization has at most a quarter of the slots (here 1).
	endless := &model.WebhookEndpoint{OrganizationID: 8, ProjectID: "other", URL: srv.URL + "/endless"}
	if err := r.store.CreateWebhookEndpoint(ctx, endless, NewSecret(), 10); err != nil {
		t.Fatal(err)
	}
	r.session()
	if _, _, err := r.store.Create(ctx, &model.CreateConnectSessionInput{OrganizationID: 8, ProjectID: "other", OriginOwnerID: "o", OriginOwnerName: "O"}); err != nil {
		t.Fatal(err)
	}
	timeout := 300 * time.Millisecond
	d := r.dispatcher(Options{Timeout: timeout, Concurrency: 2})
	// Attempts in flight, counted on the client's side.
	counter := &countingTransport{next: d.o.Client.Transport}
	d.o.Client.Transport = counter
	start := time.Now()
	for range 4 { // rounds until every endpoint had its attempt: at most 2 at a time
		r.round(d)
	}
	took := time.Since(start)
	if m := counter.most.Load(); m > 2 || m == 0 {
		t.Errorf("%d attempts in flight at once, want at most Concurrency 2", m)
	}
	if took > 4*(timeout+time.Second) {
		t.Errorf("4 rounds took %s with a %s timeout", took, timeout)
	}
	for _, id := range silent {
		a := r.attempts(id)
		if len(a) == 0 {
			continue // not reached yet: the instance was full
		}
		if a[0].Status != nil || a[0].Error == nil || !strings.Contains(*a[0].Error, "no answer within") {
			t.Errorf("silent endpoint's attempt %+v, want no status and a timeout", a[0])
		}
	}
	a, err := r.store.WebhookDeliveries(ctx, endless.Tenant(), endless.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || a[0].Status == nil || *a[0].Status != 200 {
		t.Fatalf("endless answer's attempts %+v, want one 200 (its start is enough)", a)
	}
	// The client read its cap of the endless answer and hung up, rather than reading on
	// until the timeout.
	if n := counter.read.Load(); n > maxAnswerBytes {
		t.Errorf("read %d bytes of answers, want at most %d", n, maxAnswerBytes)
	}
	select {
	case <-endlessDone:
	case <-time.After(5 * time.Second):
		t.Error("the endless answer is still being read")
	}
}

// countingTransport counts the requests in flight through it (keeping the most seen)
// and the bytes read of the answers' bodies.
type countingTransport struct {
	next           http.RoundTripper
	inFlight, most atomic.Int32
	read           atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	resp, err := c.next.RoundTrip(req)
	if resp != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
