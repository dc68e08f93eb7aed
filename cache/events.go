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

// An event is stored and sent in two parts. Its header, eventMessage's JSON, holds the
// type, the session id, the time and the API key that made it (none for a token's
// authenticate or the retention sweep). Its record is the session's record exactly as the
// write stored it (binary or JSON, record.go), absent for a delete. The tenant's log
// keeps them as the fields e and r of the event's entry; the channel carries
// "<entry id> <header>\n<record>".
type eventMessage struct {
	Type  string `json:"type"`
	ID    int    `json:"id"`
	At    int64  `json:"at"`
	Actor string `json:"k,omitempty"`
}

func encodeEvent(typ string, id int, at time.Time, actor string) string {
	return eventHeader(typ, strconv.Itoa(id), millis(at), actor)
}

// eventHeader is the one writer of an eventMessage's JSON (lua/create.lua gets it with a
// hole for the new id). typ is one of the event constants (nothing to escape), actor an
// API key id or "".
func eventHeader(typ, id string, atMillis int64, actor string) string {
	s := `{"type":"` + typ + `","id":` + id + `,"at":` + strconv.FormatInt(atMillis, 10)
	if actor != "" {
		s += `,"k":` + strconv.Quote(actor)
	}
	return s + "}"
}

// decodePublished turns a message received on a tenant's channel into the event
// subscribers receive.
func (s *Store) decodePublished(t model.Tenant, payload string) (*model.ConnectSessionEvent, error) {
	id, msg, ok := strings.Cut(payload, " ")
	if !ok {
		return nil, errors.New("cache: decode event: no log id")
	}
	header, rec, ok := strings.Cut(msg, "\n")
	if !ok {
		return nil, errors.New("cache: decode event: no record part")
	}
	return s.decodeEvent(t, id, header, rec)
}

// decodeEvent turns an event's log id, header and record ("" for none) into an event;
// the session is shown with its status as of the event.
func (s *Store) decodeEvent(t model.Tenant, eventID, header, rec string) (*model.ConnectSessionEvent, error) {
	var m eventMessage
	if err := json.Unmarshal([]byte(header), &m); err != nil {
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
	if rec != "" {
		r, err := decodeRecord(rec)
		if err != nil {
			return nil, err
		}
		ev.ConnectSession = r.session(t, ev.OccurredAt)
	}
	return ev, nil
}
