package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
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
			return fail(OutcomeRefused, "refused: the URL's host resolves to an address that is not public (WEBHOOK_ALLOW_PRIVATE)", nil)
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

// networkError says why no answer came, without the request's details.
func networkError(err error, timeout time.Duration) string {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "no answer within " + timeout.String()
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
