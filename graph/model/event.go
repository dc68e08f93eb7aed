package model

import (
	"context"
	"errors"
	"time"
)

// ConnectSessionEvent is one change to a session, as subscribers receive it. Several
// subscribers may share one event: treat it as read-only.
type ConnectSessionEvent struct {
	// EventID is the event's place in its tenant's log (a Redis stream id,
	// "<milliseconds>-<sequence>"): ordered within the tenant, and what a client passes
	// as `after` to resume.
	EventID        string
	Type           ConnectSessionEventType
	ID             int
	ConnectSession *ConnectSession
	OccurredAt     time.Time
	// ActorKeyID is the id of the API key that made the change; nil for a change made
	// with a session token (authenticate) or by the service itself (retention).
	ActorKeyID *string
}

// EventStream is an open subscription to a tenant's events.
type EventStream struct {
	// Events delivers the events in write order; it is closed when the subscription
	// ends.
	Events <-chan *ConnectSessionEvent
	// Err says why the subscription ended, once Events is closed: nil when it was
	// completed (its context ended, or the service is shutting down), else
	// ErrSlowSubscriber, an error wrapping ErrUnavailable when the event stream broke,
	// or what the subscription's recheck returned. It is nil until then.
	Err func() error
}

// ErrSlowSubscriber ends a subscription whose reader fell so far behind that events had
// to be dropped.
var ErrSlowSubscriber = errors.New("slow subscriber")

type actorKey struct{}

// WithActor returns ctx carrying the id of the API key on whose behalf the store writes;
// each write records it in its event (ConnectSessionEvent.ActorKeyID).
func WithActor(ctx context.Context, keyID string) context.Context {
	return context.WithValue(ctx, actorKey{}, keyID)
}

// ActorFrom returns the API key id WithActor put in ctx, or "" for none.
func ActorFrom(ctx context.Context) string {
	id, _ := ctx.Value(actorKey{}).(string)
	return id
}
