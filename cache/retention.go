package cache

import (
	"context"
	"errors"
	"time"

	"connectsession/graph/model"
)

// errRetained vetoes the removal of a session that is still inside its retention period
// (its expiry moved since the sweep listed it).
var errRetained = errors.New("cache: session still retained")

// Sweep removes, across all tenants, sessions whose expiry lies more than the retention
// period in the past, with their index entries and pointers. It removes at most batch
// sessions per tenant per call and returns how many it removed. Each removal is a
// DELETED event without an actor (the service's housekeeping, not a client's write).
func (s *Store) Sweep(ctx context.Context, batch int) (int, error) {
	cutoff := millis(s.now().Add(-s.retention))
	removed := 0
	var logged int64 // events left in the logs of the tenants visited
	var cursor uint64
	for {
		tags, next, err := s.rdb.SScan(ctx, s.k.tenants(), cursor, "", 100).Result()
		if err != nil {
			return removed, storeErr("sweep tenants", err)
		}
		page := make([]model.Tenant, 0, len(tags))
		for _, tag := range tags {
			t, ok := parseTenantTag(tag)
			if !ok {
				continue
			}
			page = append(page, t)
			n, err := s.sweepTenant(ctx, t, cutoff, batch)
			removed += n
			if err != nil {
				return removed, err
			}
		}
		l, err := s.trimLogs(ctx, page)
		if err != nil {
			return removed, err
		}
		logged += l
		cursor = next
		if cursor == 0 {
			s.loggedEvents.Store(logged)
			return removed, nil
		}
	}
}

func (s *Store) sweepTenant(ctx context.Context, t model.Tenant, cutoff int64, batch int) (int, error) {
	// The lowest entries of the expiry index, in either form (walked from its bottom).
	due, err := s.ixBelow(ctx, t, s.k.expiry(t), cutoff, batch)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range due {
		id := idOf(e.m)
		if id < 0 {
			continue
		}
		_, err := s.remove(ctx, t, id, eventDeleted, func(r *record, now time.Time) error {
			if r.Expires >= millis(now.Add(-s.retention)) {
				return errRetained
			}
			return nil
		})
		switch {
		case err == nil:
			removed++
		case errors.Is(err, model.ErrNotFound):
			// An expiry entry without its record cannot be written; drop it if seen.
			_ = s.ixRem(ctx, t, s.k.expiry(t), e.score, e.m)
		case errors.Is(err, errRetained):
		default:
			return removed, err
		}
	}
	return removed, nil
}

// RunRetention sweeps every interval until ctx ends. When several instances share the
// Redis, a lock key lets one of them sweep per interval.
func (s *Store) RunRetention(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := s.rdb.SetNX(ctx, s.k.prefix+":retention-lock", "1", every/2).Result()
		if err != nil || !ok {
			continue
		}
		n, err := s.sweepDue(ctx, 500, every/2)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "retention sweep failed", "err", err)
		}
		if n > 0 {
			s.log.InfoContext(ctx, "retention sweep removed expired sessions", "removed", n)
		}
	}
}

// sweepDue sweeps in batches until nothing is due or budget has passed, so that a
// backlog (a tenant expiring more than a batch per interval) is worked off instead of
// growing: memory held by expired sessions stays bounded by what expires in about one
// interval plus the retention period.
func (s *Store) sweepDue(ctx context.Context, batch int, budget time.Duration) (int, error) {
	start := time.Now()
	total := 0
	for {
		n, err := s.Sweep(ctx, batch)
		total += n
		if err != nil || n == 0 || time.Since(start) >= budget {
			return total, err
		}
	}
}
