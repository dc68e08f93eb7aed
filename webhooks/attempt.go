package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"connectsession/cache"
	"connectsession/graph/model"
)

// One delivery attempt: the signed POST, its outcome, what is recorded of it.

type result struct {
	ok       bool
	delivery *model.WebhookDelivery
}

// maxAnswerBytes is how much of an answer's body is read (and thrown away, so that the
// connection can be reused); the rest is not read.
const maxAnswerBytes = 16 << 10

// attempt posts ev to the endpoint once.
func (d *Dispatcher) attempt(ctx context.Context, st *cache.WebhookState, ev *model.ConnectSessionEvent, n int) result {
	body := Body(ev)
	start := d.o.Now()
	out := &model.WebhookDelivery{EventID: ev.EventID, Attempt: n}
	fail := func(outcome, msg string, took *int) result {
		out.Error, out.DurationMs, out.At = &msg, took, d.o.Now().UTC()
		d.observe(outcome, start)
		return result{delivery: out}
	}
	sig, err := signatures(st.Secret, st.OldSecret, st.OldUntil, ev.EventID, start, body)
	if err != nil {
		return fail(OutcomeNetwork, "the endpoint's secret is unusable; rotate it", nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.Endpoint.URL, bytes.NewReader(body))
	if err != nil {
		return fail(OutcomeNetwork, "the endpoint's URL is unusable: "+err.Error(), nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "connectsession-webhooks")
	req.Header.Set("webhook-id", ev.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.o.Client.Do(req)
	took := int(d.o.Now().Sub(start).Milliseconds())
	if err != nil {
		if errors.Is(err, ErrAddressRefused) {
			// The same words as a name that does not resolve: attempts are readable by
			// the project's keys, which must not learn which internal names exist.
			return fail(OutcomeRefused, unresolvable, nil)
		}
		return fail(OutcomeNetwork, networkError(err, d.o.Timeout), &took)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	_ = resp.Body.Close()
	took = int(d.o.Now().Sub(start).Milliseconds())
	status := resp.StatusCode
	out.Status = &status
	if status < 200 || status > 299 {
		msg := "HTTP " + strconv.Itoa(status)
		if status >= 300 && status < 400 {
			msg += ": redirects are not followed"
		}
		return fail(OutcomeStatus, msg, &took)
	}
	out.DurationMs, out.At = &took, d.o.Now().UTC()
	d.observe(OutcomeSuccess, start)
	return result{ok: true, delivery: out}
}

func (d *Dispatcher) observe(outcome string, start time.Time) {
	if d.o.Observer != nil {
		d.o.Observer.Attempted(outcome, d.o.Now().Sub(start))
	}
}

// unresolvable is what an attempt says when the URL's host has no public address: it
// does not resolve, or resolves only to addresses WEBHOOK_ALLOW_PRIVATE would allow.
const unresolvable = "the URL's host does not resolve to a public address"

// networkError says why no answer came, in a few fixed words: never the resolver's or
// the receiver's addresses, nor anything else of the network the service runs in.
func networkError(err error, timeout time.Duration) string {
	var te interface{ Timeout() bool }
	var dns *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &te) && te.Timeout():
		return "no answer within " + timeout.String()
	case errors.As(err, &dns):
		return unresolvable
	case errors.As(err, &tlsErr):
		return "TLS: the receiver's certificate is not valid for its host"
	case errors.As(err, &rec):
		return "TLS: the receiver did not answer with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before an answer"
	}
	return "the connection failed"
}
