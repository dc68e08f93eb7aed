package cache

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// What package webhooks needs to deliver: finding endpoints, holding one at a time per
// instance (the lease), recording progress and attempts under the lease, the
// redelivery queue.

var (
	webhookLeaseScript    = newScript("webhook_lease.lua")
	webhookReleaseScript  = newScript("webhook_release.lua")
	webhookProgressScript = newScript("webhook_progress.lua")
)

// WebhookAttemptsKept is how many delivery attempts an endpoint keeps (webhookDeliveries
// pages them).
const WebhookAttemptsKept = 100

// WebhookRef names one endpoint of one tenant.
type WebhookRef struct {
	Tenant model.Tenant
	ID     string
}

// ScanWebhooks returns a batch of the registered endpoints from cursor (0 to begin) and
// the cursor of the next batch (0 once all were returned), as SSCAN does: an endpoint
// present during the whole scan is returned at least once.
func (s *Store) ScanWebhooks(ctx context.Context, cursor uint64, count int) ([]WebhookRef, uint64, error) {
	members, next, err := s.rdb.SScan(ctx, s.k.webhookRegistry(), cursor, "", int64(count)).Result()
	if err != nil {
		return nil, 0, storeErr("scan webhooks", err)
	}
	out := make([]WebhookRef, 0, len(members))
	for _, m := range members {
		id, tag, ok := strings.Cut(m, ":")
		t, ok2 := parseTenantTag(tag)
		if !ok || !ok2 {
			continue
		}
		out = append(out, WebhookRef{Tenant: t, ID: id})
	}
	return out, next, nil
}

// HoldWebhook takes or renews the endpoint's lease for token, for ttl from now, and
// reports whether token holds it.
func (s *Store) HoldWebhook(ctx context.Context, ref WebhookRef, token string, ttl time.Duration) (bool, error) {
	return s.lease(ctx, ref, token, ttl, "")
}

// ExtendWebhook renews the endpoint's lease for ttl only if token still holds it; false
// when it does not (it expired, or another instance holds it now).
func (s *Store) ExtendWebhook(ctx context.Context, ref WebhookRef, token string, ttl time.Duration) (bool, error) {
	return s.lease(ctx, ref, token, ttl, "extend")
}

func (s *Store) lease(ctx context.Context, ref WebhookRef, token string, ttl time.Duration, mode string) (bool, error) {
	n, err := webhookLeaseScript.Run(ctx, s.rdb, []string{s.k.webhookLease(ref.Tenant, ref.ID)}, token, ttl.Milliseconds(), mode).Int()
	if err != nil {
		return false, storeErr("webhook lease", err)
	}
	return n == 1, nil
}

// RequeueWebhookRedelivery puts back, first in line, a redelivery taken with
// NextWebhookRedelivery whose attempt was interrupted (the instance stopping).
func (s *Store) RequeueWebhookRedelivery(ctx context.Context, ref WebhookRef, eventID string) error {
	return storeErr("webhook redelivery", s.rdb.LPush(ctx, s.k.webhookRedeliveries(ref.Tenant, ref.ID), eventID).Err())
}

// ReleaseWebhook lets go of the endpoint's lease if token holds it.
func (s *Store) ReleaseWebhook(ctx context.Context, ref WebhookRef, token string) error {
	return storeErr("webhook lease", webhookReleaseScript.Run(ctx, s.rdb, []string{s.k.webhookLease(ref.Tenant, ref.ID)}, token).Err())
}

// WebhookProgress is what a deliverer records after handling events or an attempt.
type WebhookProgress struct {
	// Cursor, when not "", moves the cursor to this event id (the retry state resets);
	// FromOldest moves it before the oldest event the log holds.
	Cursor     string
	FromOldest bool
	// Retry, when set, records a failed attempt at the head event (its cursor stays).
	Retry *WebhookRetry
	// Disable, when not "", disables the endpoint with this reason.
	Disable string
	// NotBefore, when set, makes the endpoint wait until then before its next attempt of
	// any kind (after a failed redelivery), its head event's retry state unchanged.
	NotBefore time.Time
	// Attempt, when set, is added to the endpoint's delivery attempts.
	Attempt *model.WebhookDelivery
}

// WebhookRetry is the retry state of an endpoint's head event.
type WebhookRetry struct {
	Attempt      int
	FailingSince time.Time
	NextAt       time.Time
}

// ErrWebhookLeaseLost: the caller no longer holds the endpoint's lease, so it recorded
// nothing and must stop delivering it.
var ErrWebhookLeaseLost = errors.New("cache: webhook lease lost")

// RecordWebhook records p for the endpoint while token holds its lease. It returns
// ErrWebhookLeaseLost when token does not, model.ErrWebhookEndpointNotFound when the
// endpoint is gone.
func (s *Store) RecordWebhook(ctx context.Context, ref WebhookRef, token string, p WebhookProgress) error {
	attempt := ""
	if p.Attempt != nil {
		attempt = encodeAttempt(p.Attempt)
	}
	args := []any{token, attempt, WebhookAttemptsKept}
	if p.Cursor != "" || p.FromOldest {
		args = append(args, whCursor, p.Cursor, whAttempt, 0, whFailing, 0, whNext, 0)
	}
	if r := p.Retry; r != nil {
		args = append(args, whAttempt, r.Attempt, whFailing, millis(r.FailingSince), whNext, millis(r.NextAt))
	}
	if p.Disable != "" {
		args = append(args, whEnabled, "0", whReason, p.Disable)
	}
	if !p.NotBefore.IsZero() {
		args = append(args, whNext, millis(p.NotBefore))
	}
	keys := []string{s.k.webhookLease(ref.Tenant, ref.ID), s.k.webhook(ref.Tenant, ref.ID), s.k.webhookAttempts(ref.Tenant, ref.ID)}
	n, err := webhookProgressScript.Run(ctx, s.rdb, keys, args...).Int()
	switch {
	case err != nil:
		return storeErr("record webhook", err)
	case n == 0:
		return ErrWebhookLeaseLost
	case n < 0:
		return model.ErrWebhookEndpointNotFound
	}
	return nil
}

// QueueWebhookRedelivery queues event eventID of t's log for one more delivery to the
// endpoint. It returns model.ErrWebhookEndpointNotFound or model.ErrEventNotInLog when
// either is unknown, and a *model.RateLimitError when max are already queued.
func (s *Store) QueueWebhookRedelivery(ctx context.Context, t model.Tenant, id, eventID string, max int) error {
	var exists *redis.IntCmd
	var ev *redis.XMessageSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, s.k.webhook(t, id))
		ev = p.XRangeN(ctx, s.k.eventLog(t), eventID, eventID, 1)
		return nil
	})
	if err != nil {
		return storeErr("queue redelivery", err)
	}
	if exists.Val() == 0 {
		return model.ErrWebhookEndpointNotFound
	}
	if len(ev.Val()) == 0 {
		return model.ErrEventNotInLog
	}
	key := s.k.webhookRedeliveries(t, id)
	err = s.watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.LLen(ctx, key).Result()
		if err != nil {
			return err
		}
		if int(n) >= max {
			return &model.RateLimitError{RetryAfter: 5 * time.Second}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, key, eventID)
			return nil
		})
		return err
	}, key)
	var limited *model.RateLimitError
	if errors.As(err, &limited) {
		return err
	}
	return storeErr("queue redelivery", err)
}

// NextWebhookRedelivery takes the oldest event queued for redelivery to the endpoint:
// the event, or nil when none is queued. An event trimmed from the log since it was
// queued is dropped (nil, model.ErrEventNotInLog), as is one of a malformed id.
func (s *Store) NextWebhookRedelivery(ctx context.Context, ref WebhookRef) (*model.ConnectSessionEvent, error) {
	id, err := s.rdb.LPop(ctx, s.k.webhookRedeliveries(ref.Tenant, ref.ID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("webhook redelivery", err)
	}
	msgs, err := s.rdb.XRangeN(ctx, s.k.eventLog(ref.Tenant), id, id, 1).Result()
	if err != nil {
		return nil, storeErr("webhook redelivery", err)
	}
	if len(msgs) == 0 {
		return nil, model.ErrEventNotInLog
	}
	return s.decodeEntry(ref.Tenant, msgs[0])
}

// attemptJSON is a delivery attempt as the attempts list keeps it.
type attemptJSON struct {
	Event    string  `json:"e"`
	Attempt  int     `json:"n"`
	Status   *int    `json:"s,omitempty"`
	Error    *string `json:"x,omitempty"`
	Duration *int    `json:"d,omitempty"`
	At       int64   `json:"t"`
}

func encodeAttempt(d *model.WebhookDelivery) string {
	b, _ := json.Marshal(attemptJSON{Event: d.EventID, Attempt: d.Attempt, Status: d.Status, Error: d.Error, Duration: d.DurationMs, At: millis(d.At)})
	return string(b)
}

func decodeAttempt(s string) (*model.WebhookDelivery, error) {
	var a attemptJSON
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, errors.New("cache: webhook attempt " + strconv.Quote(s) + ": " + err.Error())
	}
	return &model.WebhookDelivery{EventID: a.Event, Attempt: a.Attempt, Status: a.Status, Error: a.Error, DurationMs: a.Duration, At: time.UnixMilli(a.At).UTC()}, nil
}

// WebhooksDue reports, for each endpoint of refs, whether it has work: enabled, with a
// redelivery queued, or with events after its cursor and its next try due at now. It
// reads all of them in one pipeline, so that looking for work costs one round trip per
// batch rather than a lease and a read per endpoint.
func (s *Store) WebhooksDue(ctx context.Context, refs []WebhookRef, now time.Time) ([]bool, error) {
	state := make([]*redis.SliceCmd, len(refs))
	queued := make([]*redis.IntCmd, len(refs))
	last := make([]*redis.XMessageSliceCmd, len(refs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range refs {
			state[i] = p.HMGet(ctx, s.k.webhook(r.Tenant, r.ID), whEnabled, whCursor, whNext)
			queued[i] = p.LLen(ctx, s.k.webhookRedeliveries(r.Tenant, r.ID))
			last[i] = p.XRevRangeN(ctx, s.k.eventLog(r.Tenant), "+", "-", 1)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr("webhooks due", err)
	}
	due := make([]bool, len(refs))
	for i := range refs {
		v := state[i].Val()
		if len(v) != 3 {
			continue
		}
		enabled, _ := v[0].(string)
		cursor, _ := v[1].(string)
		nextText, _ := v[2].(string)
		if enabled != "1" { // disabled, or gone (a member its delete did not remove)
			continue
		}
		next, _ := strconv.ParseInt(nextText, 10, 64)
		newer := len(last[i].Val()) == 1 && model.EventIDLess(cursor, last[i].Val()[0].ID)
		// Redeliveries wait for the backoff too: a failed one sets it (the dispatcher).
		due[i] = (queued[i].Val() > 0 || newer) && next <= millis(now)
	}
	return due, nil
}
