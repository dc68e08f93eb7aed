package model

import (
	"context"
	"errors"
	"strconv"
	"strings"
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

// ErrEventsTrimmed refuses to resume after an event the log no longer holds (older than
// its retention, or pushed out by its length limit): events after it may be lost.
var ErrEventsTrimmed = errors.New("events trimmed from the log")

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

// ParseEventID checks that id is an event id ("<ms>-<seq>", both unsigned decimals)
// and returns it in canonical form; a *model.InputError otherwise.
func ParseEventID(id string) (string, error) {
	ms, seq, ok := SplitEventID(id)
	// Milliseconds past 2^53 are not a time any event has (and not exact in Lua, where
	// the log's scripts compare ids).
	if !ok || ms >= 1<<53 {
		return "", &InputError{Message: `must be an event id such as "1767225600000-0", as events carry in eventId`}
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq, 10), nil
}

// SplitEventID reads an event id's two numbers.
func SplitEventID(id string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found || len(id) > 41 {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// EventIDLess reports whether event id a is before b (both well formed).
func EventIDLess(a, b string) bool {
	ams, aseq, _ := SplitEventID(a)
	bms, bseq, _ := SplitEventID(b)
	return ams < bms || (ams == bms && aseq < bseq)
}
