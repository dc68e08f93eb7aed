package model

import (
	"errors"
	"time"
)

// ConnectSessionEvent is one change to a session, as subscribers receive it. Several
// subscribers may share one event: treat it as read-only.
type ConnectSessionEvent struct {
	Type           ConnectSessionEventType
	ID             int
	ConnectSession *ConnectSession
	OccurredAt     time.Time
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
