package cache

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// logView is what Verify needs of a tenant's event log: each session's last event in
// it, and the time of the oldest event kept (changes before it may have left the log).
type logView struct {
	last    map[int]loggedEvent
	horizon int64  // ms of the oldest event kept; -1 for an empty log
	read    string // the newest entry read ("" = none)
}

// readLog reads t's whole event log (at most EventLogMaxLength entries), reporting
// entries it cannot decode.
func (s *Store) readLog(ctx context.Context, t model.Tenant, rep *Report) (*logView, error) {
	v := &logView{last: map[int]loggedEvent{}, horizon: -1}
	return v, s.readLogAfter(ctx, t, v, rep)
}

// readLogAfter adds to v the entries after the last it read.
func (s *Store) readLogAfter(ctx context.Context, t model.Tenant, v *logView, rep *Report) error {
	key := s.k.eventLog(t)
	start := "-"
	if v.read != "" {
		start = nextEventID(v.read)
	}
	for {
		msgs, err := s.rdb.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return storeErr("verify event log", err)
		}
		for _, m := range msgs {
			v.read = m.ID
			if v.horizon < 0 {
				ms, _, _ := model.SplitEventID(m.ID)
				v.horizon = int64(ms)
			}
			var ev eventMessage
			raw, _ := m.Values["e"].(string)
			if err := json.Unmarshal([]byte(raw), &ev); err != nil || !model.ConnectSessionEventType(ev.Type).IsValid() {
				rep.add("undecodable event", key, m.ID)
				continue
			}
			rec, _ := m.Values["r"].(string)
			v.last[ev.ID] = loggedEvent{ev, rec}
		}
		if len(msgs) < 1000 {
			return nil
		}
		start = nextEventID(msgs[len(msgs)-1].ID)
	}
}

// loggedEvent is an event's header and record as the log holds them.
type loggedEvent struct {
	eventMessage
	record string
}

// checkRecord compares a stored record with its last event: the event must show the
// record as stored, and a record changed after the oldest event kept must have one. The
// log was read before the records, so a write since then can explain a difference: the
// log's new entries and the record are read again before one is reported.
func (s *Store) checkRecord(ctx context.Context, t model.Tenant, v *logView, key string, r *record, rep *Report) error {
	if kind, _ := v.mismatch(r); kind == "" {
		return nil
	}
	if err := s.readLogAfter(ctx, t, v, rep); err != nil {
		return err
	}
	raw, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil // deleted meanwhile; checkMissing sees its DELETED event
	}
	if err != nil {
		return storeErr("verify record", err)
	}
	if r, err = decodeRecord(raw); err != nil {
		return nil // reported by the record scan
	}
	if kind, detail := v.mismatch(r); kind != "" {
		rep.add(kind, key, detail)
	}
	return nil
}

// mismatch says how r disagrees with its last event in v ("" when it does not).
func (v *logView) mismatch(r *record) (kind, detail string) {
	ev, ok := v.last[r.ID]
	switch {
	case !ok:
		// Strictly after: changes in the millisecond of the oldest event kept may have
		// left with an entry trimmed in that same millisecond.
		if v.horizon >= 0 && r.Updated > v.horizon {
			return "record without its event", "changed at " + strconv.FormatInt(r.Updated, 10) + ", after the log's oldest event"
		}
	case ev.Type == eventDeleted:
		return "record after its DELETED event", ""
	default:
		logged, err := decodeRecord(ev.record)
		if err != nil || logged.encodeJSON() != r.encodeJSON() {
			return "record differs from its last event", ev.Type
		}
	}
	return "", ""
}

// checkMissing reports sessions whose last event says they exist but whose record does
// not (records seen holds the ids the record scan met).
func (s *Store) checkMissing(ctx context.Context, t model.Tenant, v *logView, seen map[int]bool, rep *Report) error {
	for id, ev := range v.last {
		if ev.Type == eventDeleted || seen[id] {
			continue
		}
		// Read it again: it may have been created after the scan passed it.
		n, err := s.rdb.Exists(ctx, s.k.record(t, id)).Result()
		if err != nil && err != redis.Nil {
			return storeErr("verify event log", err)
		}
		if n == 0 {
			rep.add("event of a missing record", s.k.eventLog(t), "id "+strconv.Itoa(id)+" ("+ev.Type+")")
		}
	}
	return nil
}
