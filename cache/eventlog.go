package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Each tenant has an event log (keys.eventLog): a Redis stream with one entry per
// change, appended by the same script as the change (lua/write.lua, lua/create.lua), so
// that neither exists without the other. An entry's stream id is the event's id
// (model.ConnectSessionEvent.EventID): ordered within the tenant, it is what
// subscribers resume after, what connectSessionEventLog pages by, and where webhook
// deliveries keep their place. The log is trimmed by age (EventRetention) and length
// (EventLogMaxLength) on every append, and by the retention sweep for tenants that
// stopped writing.

// DefaultEventRetention is how long an event is kept unless Options say otherwise.
const DefaultEventRetention = 7 * 24 * time.Hour

// DefaultEventLogMaxLength is how many events a tenant's log keeps at most unless
// Options say otherwise.
const DefaultEventLogMaxLength = 100_000

// MaxEventLogPage is the most events one EventLog call returns.
const MaxEventLogPage = 1000

// logArgs returns the arguments of lib.lua's log_event for an append to t's log by a
// write at `at`.
func (s *Store) logArgs(t model.Tenant, at time.Time) logArgs {
	return logArgs{key: s.k.eventLog(t), minID: s.logMinID(at), max: s.eventLogMax, at: millis(at)}
}

// logMinID is the oldest event id the logs keep at `at`.
func (s *Store) logMinID(at time.Time) string {
	return strconv.FormatInt(millis(at.Add(-s.eventRetention)), 10) + "-0"
}

// nextEventID is the smallest id after id (an inclusive XRANGE start that excludes id,
// which also works on servers without exclusive ranges).
func nextEventID(id string) string {
	ms, seq, _ := model.SplitEventID(id)
	if seq == ^uint64(0) {
		return strconv.FormatUint(ms+1, 10) + "-0"
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10)
}

// EventLog returns t's events after the event id after ("" = from the oldest kept),
// oldest first, at most first (capped at MaxEventLogPage). An after that is not an event
// id is a *model.InputError; an after older than what the log still holds returns
// model.ErrEventsTrimmed, since events after it may be gone.
func (s *Store) EventLog(ctx context.Context, t model.Tenant, after string, first int) ([]*model.ConnectSessionEvent, error) {
	first = min(max(first, 0), MaxEventLogPage)
	start := "-"
	if after != "" {
		var err error
		if after, err = model.ParseEventID(after); err != nil {
			return nil, err
		}
		start = nextEventID(after)
	}
	key := s.k.eventLog(t)
	if first == 0 {
		return []*model.ConnectSessionEvent{}, s.checkNotTrimmed(ctx, t, after)
	}
	msgs, err := s.rdb.XRangeN(ctx, key, start, "+", int64(first)).Result()
	if err != nil {
		return nil, storeErr("event log", err)
	}
	if after != "" && len(msgs) == 0 {
		// Nothing after it: refuse an id later than the newest event, which would hide
		// the events to come from a client that resumes or polls with it.
		last, err := s.LastEventID(ctx, t)
		if err != nil {
			return nil, err
		}
		if model.EventIDLess(last, after) {
			return nil, &model.InputError{Message: "is later than the newest event (" + last + ")"}
		}
	}
	if after != "" && (len(msgs) == 0 || msgs[0].ID != start) {
		// The first entry is not the one right after `after`: check nothing between
		// them was trimmed.
		if err := s.checkNotTrimmed(ctx, t, after); err != nil {
			return nil, err
		}
	}
	out := make([]*model.ConnectSessionEvent, 0, len(msgs))
	for _, m := range msgs {
		ev, err := s.decodeEntry(t, m)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// checkNotTrimmed returns model.ErrEventsTrimmed when events after `after` may have
// been trimmed from t's log: after is older than the log's retention, or the log is
// full and its oldest entry is past after.
func (s *Store) checkNotTrimmed(ctx context.Context, t model.Tenant, after string) error {
	if after == "" {
		return nil
	}
	if model.EventIDLess(after, s.logMinID(s.now())) {
		return fmt.Errorf("cache: events after %s: %w", after, model.ErrEventsTrimmed)
	}
	key := s.k.eventLog(t)
	var n *redis.IntCmd
	var oldest *redis.XMessageSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		n = p.XLen(ctx, key)
		oldest = p.XRangeN(ctx, key, "-", "+", 1)
		return nil
	})
	if err != nil {
		return storeErr("event log", err)
	}
	if o := oldest.Val(); int(n.Val()) >= s.eventLogMax && len(o) == 1 && model.EventIDLess(nextEventID(after), o[0].ID) {
		return fmt.Errorf("cache: events after %s: %w", after, model.ErrEventsTrimmed)
	}
	return nil
}

// LoggedEvents is how many events all tenants' logs held when this instance last
// finished a retention sweep, and false when it has not finished one.
func (s *Store) LoggedEvents() (int64, bool) {
	n := s.loggedEvents.Load()
	return n, n >= 0
}

// LastEventID returns the id of t's newest event, or "0-0" when its log is empty.
func (s *Store) LastEventID(ctx context.Context, t model.Tenant) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.k.eventLog(t), "+", "-", 1).Result()
	if err != nil {
		return "", storeErr("event log", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

func (s *Store) decodeEntry(t model.Tenant, m redis.XMessage) (*model.ConnectSessionEvent, error) {
	header, ok := m.Values["e"].(string)
	if !ok {
		return nil, errors.New("cache: event log entry " + m.ID + " has no event")
	}
	rec, _ := m.Values["r"].(string)
	return s.decodeEvent(t, m.ID, header, rec)
}

// trimLog trims t's log to its retention; the sweep calls it for every tenant, so that
// logs of tenants that no longer write do not keep old events. It returns the log's
// length after trimming.
func (s *Store) trimLog(ctx context.Context, t model.Tenant) (int64, error) {
	key := s.k.eventLog(t)
	var n *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XTrimMinID(ctx, key, s.logMinID(s.now()))
		n = p.XLen(ctx, key)
		return nil
	})
	if err != nil {
		return 0, storeErr("trim event log", err)
	}
	return n.Val(), nil
}
