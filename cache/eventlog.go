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
	return logArgs{key: s.k.eventLog(t), cut: s.k.eventLogCut(t), minID: s.logMinID(at), max: s.eventLogMax, at: millis(at)}
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
// id, or is later than the newest event, is a *model.InputError; one the log no longer
// covers (an event after it was trimmed) returns model.ErrEventsTrimmed. One round trip.
func (s *Store) EventLog(ctx context.Context, t model.Tenant, after string, first int) ([]*model.ConnectSessionEvent, error) {
	msgs, err := s.eventEntries(ctx, t, after, first, 0)
	if err != nil {
		return nil, err
	}
	return s.decodeEntries(t, msgs)
}

// eventEntries reads t's log entries after `after` as EventLog describes, undecoded. With
// maxBytes > 0 it keeps only as many as fit in that many bytes of event data (at least
// one), for readers that hold what they read while a slow client takes it.
func (s *Store) eventEntries(ctx context.Context, t model.Tenant, after string, first, maxBytes int) ([]redis.XMessage, error) {
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
	var entries *redis.XMessageSliceCmd
	var newest *redis.XMessageSliceCmd
	var cut *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if first > 0 {
			entries = p.XRangeN(ctx, key, start, "+", int64(first))
		}
		if after != "" {
			newest = p.XRevRangeN(ctx, key, "+", "-", 1)
			cut = p.Get(ctx, s.k.eventLogCut(t))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr("event log", err)
	}
	if after != "" {
		trimmed := cut.Val() // the newest id trimmed; "" when none was
		if trimmed != "" && model.EventIDLess(after, trimmed) {
			return nil, fmt.Errorf("cache: events after %s: %w", after, model.ErrEventsTrimmed)
		}
		last := trimmed
		if n := newest.Val(); len(n) == 1 {
			last = n[0].ID
		}
		if last == "" {
			last = "0-0"
		}
		if model.EventIDLess(last, after) {
			// It would hide the events to come from a client that resumes or polls with it.
			return nil, &model.InputError{Message: "is later than the newest event (" + last + ")"}
		}
	}
	if entries == nil {
		return nil, nil
	}
	msgs := entries.Val()
	if maxBytes > 0 {
		size := 0
		for i, m := range msgs {
			for _, v := range m.Values {
				if str, ok := v.(string); ok {
					size += len(str)
				}
			}
			if size > maxBytes && i > 0 {
				// A copy: the rest of the reply must not stay reachable through it.
				msgs = append([]redis.XMessage(nil), msgs[:i]...)
				break
			}
		}
	}
	return msgs, nil
}

// replayBytes bounds the event data one resuming subscription holds at a time (replayed
// events wait for a client that may read slowly or not at all).
const replayBytes = 16 << 10

// replay returns the next batch of t's events after `after` for a resuming subscription:
// at most replayBatch events and, past the first, replayBytes of event data. more
// reports that the log may hold further events.
func (s *Store) replay(ctx context.Context, t model.Tenant, after string) (evs []*model.ConnectSessionEvent, more bool, err error) {
	msgs, err := s.eventEntries(ctx, t, after, replayBatch, replayBytes)
	if err != nil {
		return nil, false, err
	}
	evs, err = s.decodeEntries(t, msgs)
	return evs, len(msgs) > 0, err
}

func (s *Store) decodeEntries(t model.Tenant, msgs []redis.XMessage) ([]*model.ConnectSessionEvent, error) {
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

// LoggedEvents is how many events all tenants' logs held when this instance last
// finished a retention sweep, and false when it has not finished one.
func (s *Store) LoggedEvents() (int64, bool) {
	n := s.loggedEvents.Load()
	return n, n >= 0
}

// LastEventID returns the id of t's newest event: its newest entry, or when its log is
// empty the newest one trimmed from it, or "0-0" when it never held one.
func (s *Store) LastEventID(ctx context.Context, t model.Tenant) (string, error) {
	var newest *redis.XMessageSliceCmd
	var cut *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		newest = p.XRevRangeN(ctx, s.k.eventLog(t), "+", "-", 1)
		cut = p.Get(ctx, s.k.eventLogCut(t))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", storeErr("event log", err)
	}
	if n := newest.Val(); len(n) == 1 {
		return n[0].ID, nil
	}
	if c := cut.Val(); c != "" {
		return c, nil
	}
	return "0-0", nil
}

func (s *Store) decodeEntry(t model.Tenant, m redis.XMessage) (*model.ConnectSessionEvent, error) {
	header, ok := m.Values["e"].(string)
	if !ok {
		return nil, errors.New("cache: event log entry " + m.ID + " has no event")
	}
	rec, _ := m.Values["r"].(string)
	return s.decodeEvent(t, m.ID, header, rec)
}

// trimLogs trims the logs of tenants to their retention and length (lua/trim.lua), in
// one pipeline; the sweep calls it for every tenant, so that logs of tenants that no
// longer write do not keep old events. It returns the events left in those logs.
func (s *Store) trimLogs(ctx context.Context, tenants []model.Tenant) (int64, error) {
	if len(tenants) == 0 {
		return 0, nil
	}
	// EVALSHA in a pipeline cannot fall back to EVAL per command: load the script first.
	if err := trimScript.Load(ctx, s.rdb).Err(); err != nil {
		return 0, storeErr("load trim script", err)
	}
	minID := s.logMinID(s.now())
	cmds := make([]*redis.Cmd, len(tenants))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tenants {
			cmds[i] = trimScript.EvalSha(ctx, p, []string{s.k.eventLog(t), s.k.eventLogCut(t)}, minID, s.eventLogMax)
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("trim event logs", err)
	}
	var left int64
	for _, c := range cmds {
		n, _ := c.Int64()
		left += n
	}
	return left, nil
}
