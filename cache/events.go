package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"connectsession/graph/model"
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
	r := ""
	if rec != nil {
		r = rec.encodeJSON()
	}
	return eventText(typ, strconv.Itoa(id), millis(at), r)
}

// eventText is the one writer of an eventMessage's JSON (lua/create.lua gets it with
// holes for the new id). typ is one of the event constants (nothing to escape), record
// an encoded JSON record or "" for none.
func eventText(typ, id string, atMillis int64, record string) string {
	s := `{"type":"` + typ + `","id":` + id + `,"at":` + strconv.FormatInt(atMillis, 10)
	if record != "" {
		s += `,"r":` + record
	}
	return s + "}"
}

// decodeEvent turns a published message into the event subscribers receive.
func (s *Store) decodeEvent(t model.Tenant, payload string) (*model.ConnectSessionEvent, error) {
	var m eventMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return nil, fmt.Errorf("cache: decode event: %w", err)
	}
	typ := model.ConnectSessionEventType(m.Type)
	if !typ.IsValid() {
		return nil, errors.New("cache: decode event: unknown type " + m.Type)
	}
	ev := &model.ConnectSessionEvent{Type: typ, ID: m.ID, OccurredAt: fromMillis(m.At)}
	if m.Record != nil {
		r, err := decodeRecord(string(m.Record))
		if err != nil {
			return nil, err
		}
		ev.ConnectSession = r.session(t, s.now())
	}
	return ev, nil
}
