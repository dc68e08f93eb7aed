package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// eventMessage is what a write appends to the tenant's log (field e of the entry) and
// publishes on its channel (after the entry's id and a space): the event, the API key
// that made it (none for a token's authenticate or the retention sweep) and, except for
// a delete, the record as written.
type eventMessage struct {
	Type   string          `json:"type"`
	ID     int             `json:"id"`
	At     int64           `json:"at"`
	Actor  string          `json:"k,omitempty"`
	Record json.RawMessage `json:"r,omitempty"`
}

func encodeEvent(typ string, id int, at time.Time, rec *record, actor string) string {
	r := ""
	if rec != nil {
		r = rec.encodeJSON()
	}
	return eventText(typ, strconv.Itoa(id), millis(at), r, actor)
}

// eventText is the one writer of an eventMessage's JSON (lua/create.lua gets it with
// holes for the new id). typ is one of the event constants (nothing to escape), record
// an encoded JSON record or "" for none, actor an API key id or "".
func eventText(typ, id string, atMillis int64, record, actor string) string {
	s := `{"type":"` + typ + `","id":` + id + `,"at":` + strconv.FormatInt(atMillis, 10)
	if actor != "" {
		s += `,"k":` + strconv.Quote(actor)
	}
	if record != "" {
		s += `,"r":` + record
	}
	return s + "}"
}

// decodePublished turns a message received on a tenant's channel ("<log id> <message>")
// into the event subscribers receive.
func (s *Store) decodePublished(t model.Tenant, payload string) (*model.ConnectSessionEvent, error) {
	id, msg, ok := strings.Cut(payload, " ")
	if !ok {
		return nil, errors.New("cache: decode event: no log id")
	}
	return s.decodeEvent(t, id, msg)
}

// decodeEvent turns a logged event message with its log id into an event.
func (s *Store) decodeEvent(t model.Tenant, eventID, payload string) (*model.ConnectSessionEvent, error) {
	var m eventMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return nil, fmt.Errorf("cache: decode event: %w", err)
	}
	typ := model.ConnectSessionEventType(m.Type)
	if !typ.IsValid() {
		return nil, errors.New("cache: decode event: unknown type " + m.Type)
	}
	ev := &model.ConnectSessionEvent{EventID: eventID, Type: typ, ID: m.ID, OccurredAt: fromMillis(m.At)}
	if m.Actor != "" {
		ev.ActorKeyID = &m.Actor
	}
	if m.Record != nil {
		r, err := decodeRecord(string(m.Record))
		if err != nil {
			return nil, err
		}
		ev.ConnectSession = r.session(t, s.now())
	}
	return ev, nil
}
