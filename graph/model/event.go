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
	// Err, when set, ends the subscription: it is delivered as the stream's last result
	// in place of an event.
	Err error
}

// ErrSlowSubscriber ends a subscription whose reader fell so far behind that events had
// to be dropped.
var ErrSlowSubscriber = errors.New("slow subscriber")
