package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Webhook endpoints (package webhooks delivers to them) are kept per tenant: a sorted set
// of their ids by creation, and one hash each holding the settings, the signing secret
// and the delivery state, so that one read gives a deliverer all it needs. The delivery
// state is the cursor (the last event handled: delivered, or skipped by the event-type
// filter), the attempt count, first failure and next try of the event at the head, all
// written only by the instance that holds the endpoint's lease (webhook_delivery.go).
// A global registry (keys.webhookRegistry) lists every endpoint for the instances that
// look for work; it is written apart from the tenant's keys, before a create and after a
// delete, so that it never misses an endpoint. It may name one that no longer exists
// (its delete failed between the two writes): such a member is skipped, never removed
// by the deliverers, since telling it from an endpoint being created would take both
// keys at once, which a cluster cannot.

// The fields of an endpoint's hash.
const (
	whURL      = "url"
	whTypes    = "types"    // event types joined by commas; empty = every type
	whSecret   = "secret"   // the signing secret as shown to the caller (whsec_...)
	whOld      = "old"      // the secret before the last rotation, still signing until oldUntil
	whOldUntil = "olduntil" // ms
	whEnabled  = "enabled"  // "1" or "0"
	whReason   = "reason"   // why the service disabled it; empty otherwise
	whCreated  = "created"  // ms
	whCursor   = "cursor"   // the last event handled
	whAttempt  = "attempt"  // attempts made at the event after the cursor
	whFailing  = "failing"  // ms of that event's first failed attempt; 0 when none
	whNext     = "next"     // ms before which it is not tried again; 0 = now
	whEndpoint = "endpoint" // the endpoint's id
)

// WebhookState is an endpoint with its secret and delivery state, as a deliverer reads it.
type WebhookState struct {
	Endpoint *model.WebhookEndpoint
	Secret   string
	// OldSecret is the secret before the last rotation and OldUntil when it stops
	// signing: until then deliveries carry a signature with each, so that receivers can
	// switch to the new secret without refusing deliveries meanwhile.
	OldSecret string
	OldUntil  time.Time
	// Cursor is the id of the last event handled; "" for none: the endpoint starts at the
	// oldest event the log holds.
	Cursor string
	// Attempt is how many attempts the event after Cursor has had; FailingSince is when
	// the first of them failed (zero when none did), NextAt when to try again.
	Attempt      int
	FailingSince time.Time
	NextAt       time.Time
}

// CreateWebhookEndpoint stores a new endpoint of e's tenant, URL and event types with
// secret, enabled, its cursor at t's newest event (it receives what is written from now
// on). It fills e's ID, Enabled and CreatedAt. It returns model.ErrTooManyWebhookEndpoints
// when the tenant already has max endpoints, an error wrapping model.ErrUnavailable when
// Redis does not answer.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *model.WebhookEndpoint, secret string, max int) error {
	t := e.Tenant()
	cursor, err := s.LastEventID(ctx, t)
	if err != nil {
		return err
	}
	if cursor == "0-0" {
		cursor = "" // an empty log: from its oldest event, whenever that comes
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	e.ID, e.Enabled, e.CreatedAt = "we_"+hex.EncodeToString(b[:]), true, s.now().UTC().Truncate(time.Millisecond)
	member := e.ID + ":" + tenantTag(t)
	if err := s.rdb.SAdd(ctx, s.k.webhookRegistry(), member).Err(); err != nil {
		return storeErr("create webhook endpoint", err)
	}
	list, key := s.k.webhooks(t), s.k.webhook(t, e.ID)
	err = s.watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.ZCard(ctx, list).Result()
		if err != nil {
			return err
		}
		if int(n) >= max {
			return model.ErrTooManyWebhookEndpoints
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, list, redis.Z{Score: float64(millis(e.CreatedAt)), Member: e.ID})
			p.HSet(ctx, key, whEndpoint, e.ID, whURL, e.URL, whTypes, joinTypes(e.EventTypes), whSecret, secret,
				whEnabled, "1", whReason, "", whCreated, millis(e.CreatedAt), whCursor, cursor,
				whAttempt, 0, whFailing, 0, whNext, 0)
			return nil
		})
		return err
	}, list)
	if err != nil {
		_ = s.rdb.SRem(ctx, s.k.webhookRegistry(), member).Err()
		if errors.Is(err, model.ErrTooManyWebhookEndpoints) {
			return err
		}
		return storeErr("create webhook endpoint", err)
	}
	return nil
}

// WebhookEndpoints returns t's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, t model.Tenant) ([]*model.WebhookEndpoint, error) {
	ids, err := s.rdb.ZRange(ctx, s.k.webhooks(t), 0, -1).Result()
	if err != nil {
		return nil, storeErr("webhook endpoints", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if len(ids) > 0 {
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HGetAll(ctx, s.k.webhook(t, id))
			}
			return nil
		})
		if err != nil {
			return nil, storeErr("webhook endpoints", err)
		}
	}
	out := make([]*model.WebhookEndpoint, 0, len(ids))
	for _, c := range cmds {
		if st := decodeWebhook(t, c.Val()); st != nil {
			out = append(out, st.Endpoint)
		}
	}
	return out, nil
}

// WebhookEndpoint returns one of t's endpoints with its secret and delivery state, or
// model.ErrWebhookEndpointNotFound.
func (s *Store) WebhookEndpoint(ctx context.Context, t model.Tenant, id string) (*WebhookState, error) {
	h, err := s.rdb.HGetAll(ctx, s.k.webhook(t, id)).Result()
	if err != nil {
		return nil, storeErr("webhook endpoint", err)
	}
	st := decodeWebhook(t, h)
	if st == nil {
		return nil, model.ErrWebhookEndpointNotFound
	}
	return st, nil
}

// UpdateWebhookEndpoint applies u and returns the endpoint as it is then, or
// model.ErrWebhookEndpointNotFound. Enabling a disabled endpoint clears its reason and
// its head event's retry state, keeping its cursor: it resumes where it stopped.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, u *model.WebhookUpdate) (*model.WebhookEndpoint, error) {
	key := s.k.webhook(u.Tenant, u.ID)
	var out *model.WebhookEndpoint
	err := s.watch(ctx, func(tx *redis.Tx) error {
		h, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		st := decodeWebhook(u.Tenant, h)
		if st == nil {
			return model.ErrWebhookEndpointNotFound
		}
		e := st.Endpoint
		var fields []any
		if u.URL != nil {
			e.URL = *u.URL
			fields = append(fields, whURL, e.URL)
		}
		if u.EventTypes != nil {
			e.EventTypes = *u.EventTypes
			fields = append(fields, whTypes, joinTypes(e.EventTypes))
		}
		if u.Enabled != nil && *u.Enabled != e.Enabled {
			e.Enabled, e.DisabledReason = *u.Enabled, nil
			fields = append(fields, whEnabled, boolText(e.Enabled), whReason, "")
			if e.Enabled {
				fields = append(fields, whAttempt, 0, whFailing, 0, whNext, 0)
			}
		}
		if e.EventTypes == nil {
			e.EventTypes = []model.ConnectSessionEventType{}
		}
		out = e
		if len(fields) == 0 {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, fields...)
			return nil
		})
		return err
	}, key)
	if errors.Is(err, model.ErrWebhookEndpointNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, storeErr("update webhook endpoint", err)
	}
	return out, nil
}

// RotateWebhookSecret replaces an endpoint's secret and returns the endpoint, or
// model.ErrWebhookEndpointNotFound. The secret it replaces keeps signing (beside the new
// one) for overlap.
func (s *Store) RotateWebhookSecret(ctx context.Context, t model.Tenant, id, secret string, overlap time.Duration) (*model.WebhookEndpoint, error) {
	key := s.k.webhook(t, id)
	var out *model.WebhookEndpoint
	err := s.watch(ctx, func(tx *redis.Tx) error {
		h, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		st := decodeWebhook(t, h)
		if st == nil {
			return model.ErrWebhookEndpointNotFound
		}
		out = st.Endpoint
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, whSecret, secret, whOld, st.Secret, whOldUntil, millis(s.now().Add(overlap)))
			return nil
		})
		return err
	}, key)
	if errors.Is(err, model.ErrWebhookEndpointNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, storeErr("rotate webhook secret", err)
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an endpoint with its attempts, queue and lease; false
// when there was none.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, t model.Tenant, id string) (bool, error) {
	var removed *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		removed = p.ZRem(ctx, s.k.webhooks(t), id)
		p.Del(ctx, s.k.webhook(t, id), s.k.webhookAttempts(t, id), s.k.webhookRedeliveries(t, id), s.k.webhookLease(t, id))
		return nil
	})
	if err != nil {
		return false, storeErr("delete webhook endpoint", err)
	}
	if err := s.rdb.SRem(ctx, s.k.webhookRegistry(), id+":"+tenantTag(t)).Err(); err != nil {
		// The endpoint is gone; its registry member stays, skipped by every look for work.
		s.log.Warn("webhook registry: removing a deleted endpoint", "err", err)
	}
	return removed.Val() > 0, nil
}

// WebhookDeliveries returns an endpoint's latest first delivery attempts, newest first,
// or model.ErrWebhookEndpointNotFound.
func (s *Store) WebhookDeliveries(ctx context.Context, t model.Tenant, id string, first int) ([]*model.WebhookDelivery, error) {
	var exists *redis.IntCmd
	var items *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, s.k.webhook(t, id))
		items = p.LRange(ctx, s.k.webhookAttempts(t, id), 0, int64(max(first, 1)-1))
		return nil
	})
	if err != nil {
		return nil, storeErr("webhook deliveries", err)
	}
	if exists.Val() == 0 {
		return nil, model.ErrWebhookEndpointNotFound
	}
	out := make([]*model.WebhookDelivery, 0, len(items.Val()))
	for _, it := range items.Val()[:min(first, len(items.Val()))] {
		d, err := decodeAttempt(it)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func decodeWebhook(t model.Tenant, h map[string]string) *WebhookState {
	if h[whEndpoint] == "" {
		return nil
	}
	num := func(f string) int64 { n, _ := strconv.ParseInt(h[f], 10, 64); return n }
	at := func(f string) time.Time {
		if n := num(f); n > 0 {
			return time.UnixMilli(n).UTC()
		}
		return time.Time{}
	}
	e := &model.WebhookEndpoint{ID: h[whEndpoint], OrganizationID: t.OrganizationID, ProjectID: t.ProjectID, URL: h[whURL],
		EventTypes: splitTypes(h[whTypes]), Enabled: h[whEnabled] == "1", CreatedAt: at(whCreated)}
	if r := h[whReason]; r != "" {
		e.DisabledReason = &r
	}
	return &WebhookState{Endpoint: e, Secret: h[whSecret], OldSecret: h[whOld], OldUntil: at(whOldUntil), Cursor: h[whCursor], Attempt: int(num(whAttempt)),
		FailingSince: at(whFailing), NextAt: at(whNext)}
}

func joinTypes(types []model.ConnectSessionEventType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

func splitTypes(s string) []model.ConnectSessionEventType {
	out := []model.ConnectSessionEventType{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, model.ConnectSessionEventType(p))
		}
	}
	return out
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// watchTries is how often a webhook write whose keys changed under it is tried before
// it gives up with model.ErrConflict.
const watchTries = 20

// watch runs fn as an optimistic transaction over keys (all of one tenant), again while
// another client changed them between its reads and its writes.
func (s *Store) watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for range watchTries {
		err := s.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return fmt.Errorf("cache: webhook endpoint: %w", model.ErrConflict)
}
