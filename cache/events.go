package cache

import (
	"encoding/json"
	"time"
)

// The event types published on a tenant's channel, as the API names them.
const (
	eventCreated       = "CREATED"
	eventUpdated       = "UPDATED"
	eventAuthenticated = "AUTHENTICATED"
	eventRevoked       = "REVOKED"
	eventDeleted       = "DELETED"
)

// eventMessage is what a write publishes on the tenant's channel: the event and, except
// for a delete, the record as written.
type eventMessage struct {
	Type   string          `json:"type"`
	ID     int             `json:"id"`
	At     int64           `json:"at"`
	Record json.RawMessage `json:"r,omitempty"`
}

func encodeEvent(typ string, id int, at time.Time, rec *record) string {
	m := eventMessage{Type: typ, ID: id, At: millis(at)}
	if rec != nil {
		m.Record = json.RawMessage(rec.encodeJSON())
	}
	b, _ := json.Marshal(m) // only strings, numbers and an encoded record
	return string(b)
}
