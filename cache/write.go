package cache

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// maxWriteAttempts bounds compare-and-set retries when concurrent writes keep changing
// the same record.
const maxWriteAttempts = 8

// Get returns one session; model.ErrNotFound when the tenant has no such session.
func (s *Store) Get(ctx context.Context, t model.Tenant, id int) (*model.ConnectSession, error) {
	v, err := s.reads.Get(ctx, s.k.record(t, id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, storeErr("get", err)
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, err
	}
	return r.session(t, s.now()), nil
}

// apply writes a record with compare-and-set (lua/write.lua). It reports false when the
// record changed since it was read.
func (s *Store) apply(ctx context.Context, t model.Tenant, id int, ch change) (bool, error) {
	c := s.writeCall(t, id, ch)
	n, err := c.run(ctx, s.rdb).Int()
	s.cached.forget(c.record) // also after a failure: the write may have happened
	if err != nil {
		return false, storeErr("write", err)
	}
	return n == 1, nil
}

// change is one write of a record, as apply and writeCall take it.
type change struct {
	expected    string   // the value read ("" = the record must not exist)
	next        string   // the new value ("" = delete the record)
	leave, join []string // the indexes the record leaves and joins
	scores      []int64  // one per index of leave, then of join
	event       string   // the event's header ("" = none; eventHeader)
	at          time.Time
}

// writeCall lays out a change of record id for lua/write.lua.
func (s *Store) writeCall(t model.Tenant, id int, ch change) *writeCall {
	channel := ""
	if ch.event != "" {
		channel = s.k.events(t)
	}
	publish := "PUBLISH"
	if s.sharded {
		publish = "SPUBLISH"
	}
	return &writeCall{
		record: s.k.record(t, id), leave: ch.leave, join: ch.join, guard: s.k.guard(t),
		expected: ch.expected, next: ch.next, member: member(id),
		channel: channel, event: ch.event, publish: publish,
		base: s.k.tenantBase(t), log: s.logArgs(t, ch.at), scores: ch.scores,
	}
}

// mutation computes a record's next state from its current one at now; a nil result
// deletes the record.
type mutation func(cur *record, now time.Time) (*record, error)

// modify reads a record, applies fn and writes the result with compare-and-set,
// retrying when another write got there first. before, when set, runs after fn and
// before the write (used to move global pointers ahead of the record). It returns
// model.ErrNotFound when the record does not exist.
func (s *Store) modify(ctx context.Context, t model.Tenant, id int, event string, fn mutation, before func(cur, next *record) error) (cur, next *record, err error) {
	key := s.k.record(t, id)
	actor := model.ActorFrom(ctx)
	for range maxWriteAttempts {
		raw, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil, model.ErrNotFound
		}
		if err != nil {
			return nil, nil, storeErr("read for write", err)
		}
		cur, err := decodeRecord(raw)
		if err != nil {
			return nil, nil, err
		}
		now := s.now()
		working := *cur
		next, err := fn(&working, now)
		if err != nil {
			return nil, nil, err
		}
		if before != nil {
			if err := before(cur, next); err != nil {
				return nil, nil, err
			}
		}
		encoded := ""
		if next != nil {
			encoded = s.encode(next)
			if encoded == s.encode(cur) {
				// Nothing changes (a second authenticate or revoke): no write, and no
				// event, so that repeating a call cannot fill the project's event log.
				return cur, next, nil
			}
		}
		leave, join, scores := s.indexDiff(t, cur, next)
		msg := ""
		if event != "" {
			msg = encodeEvent(event, id, now, actor)
		}
		ok, err := s.apply(ctx, t, id, change{expected: raw, next: encoded, leave: leave, join: join,
			scores: scores, event: msg, at: now})
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return cur, next, nil
		}
	}
	return nil, nil, fmt.Errorf("cache: write session %d: %w", id, model.ErrConflict)
}

// indexDiff lists the indexes a record leaves and joins between two states, with one
// score per index: the entry's current score for those it leaves, its new one for those
// it joins (leave's first). A moved expiry leaves the expiry index and joins it again.
func (s *Store) indexDiff(t model.Tenant, cur, next *record) (leave, join []string, scores []int64) {
	old := s.k.indexKeys(t, cur)
	var now []string
	if next != nil {
		now = s.k.indexKeys(t, next)
	}
	in := func(list []string, k string) bool {
		for _, x := range list {
			if x == k {
				return true
			}
		}
		return false
	}
	var joinScores []int64
	for _, k := range old {
		if !in(now, k) {
			leave = append(leave, k)
			scores = append(scores, cur.Created)
		}
	}
	for _, k := range now {
		if !in(old, k) {
			join = append(join, k)
			joinScores = append(joinScores, next.Created)
		}
	}
	switch {
	case next == nil:
		leave = append(leave, s.k.expiry(t))
		scores = append(scores, cur.Expires)
	case next.Expires != cur.Expires:
		leave = append(leave, s.k.expiry(t))
		scores = append(scores, cur.Expires)
		join = append(join, s.k.expiry(t))
		joinScores = append(joinScores, next.Expires)
	}
	return leave, join, append(scores, joinScores...)
}

// Authenticate exchanges a token for its session, setting AuthenticatedAt the first
// time. An unknown, expired, revoked or malformed token returns model.ErrUnauthenticated.
//
// A token names its session's id: the id → tenant bucket gives the record, whose token
// hash is compared with the hash of the token's secret in constant time, and whose
// expiry and revocation decide the rest. A token of the old form (no id in it) is found
// through its token pointer, as long as one exists. Both look-ups go to Redis itself,
// never through the read cache.
func (s *Store) Authenticate(ctx context.Context, token string) (*model.ConnectSession, error) {
	id, hash, legacy, ok := parseToken(token)
	if !ok {
		return nil, model.ErrUnauthenticated
	}
	var t model.Tenant
	if legacy {
		// The record and the pointer keep the hash of the whole token.
		hash = hashToken(token)
		ptr, err := s.rdb.Get(ctx, s.k.token(hash)).Result()
		if errors.Is(err, redis.Nil) {
			return nil, model.ErrUnauthenticated
		}
		if err != nil {
			return nil, storeErr("token lookup", err)
		}
		if t, id, ok = parseTokenPointer(ptr); !ok {
			return nil, model.ErrUnauthenticated
		}
	} else {
		tag, err := s.rdb.HGet(ctx, s.k.idBucket(id), strconv.Itoa(id)).Result()
		if errors.Is(err, redis.Nil) {
			return nil, model.ErrUnauthenticated
		}
		if err != nil {
			return nil, storeErr("token lookup", err)
		}
		if t, ok = parseTenantTag(tag); !ok {
			return nil, model.ErrUnauthenticated
		}
	}
	_, next, err := s.modify(ctx, t, id, eventAuthenticated, func(r *record, now time.Time) (*record, error) {
		if subtle.ConstantTimeCompare([]byte(r.TokenHash), []byte(hash)) != 1 || !r.tokenUsable(now) {
			return nil, model.ErrUnauthenticated
		}
		if r.AuthAt == 0 {
			r.AuthAt = millis(now)
			r.Updated = r.AuthAt
		}
		return r, nil
	}, nil)
	if errors.Is(err, model.ErrNotFound) {
		return nil, model.ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	return next.session(t, s.now()), nil
}

// Update applies a validated update. It returns model.ErrNotFound for an unknown
// session, and an *InputError for input.expiresIn when the session's token is already
// dead (expired or revoked): a dead token stays dead (see deadTokenError).
func (s *Store) Update(ctx context.Context, in *model.SessionUpdate) (*model.ConnectSession, error) {
	t := model.Tenant{OrganizationID: in.OrganizationID, ProjectID: in.ProjectID}
	_, next, err := s.modify(ctx, t, in.ID, eventUpdated, func(r *record, now time.Time) (*record, error) {
		// r is the record the write script will compare-and-set against, so this check
		// holds for the record actually replaced: a revoke or an expiry that lands
		// first makes the script refuse the write and the retry see the dead token.
		if v, ok := in.ExpiresIn.ValueOK(); ok && v != nil && !r.tokenUsable(now) {
			return nil, deadTokenError(r, now)
		}
		if v, ok := in.OriginOwnerName.ValueOK(); ok && v != nil {
			r.OwnerName = *v
		}
		if v, ok := in.OriginUsername.ValueOK(); ok {
			r.Username = v
		}
		if v, ok := in.Provider.ValueOK(); ok {
			r.Provider = v
		}
		if v, ok := in.Categories.ValueOK(); ok {
			r.setCategories(v)
		}
		if v, ok := in.AccountID.ValueOK(); ok {
			r.Account = v
		}
		if v, ok := in.Label.ValueOK(); ok {
			r.Label = v
		}
		if v, ok := in.Metadata.ValueOK(); ok {
			r.Meta = []byte(v)
			if v == nil {
				r.Meta = nil
			}
		}
		if v, ok := in.ExpiresIn.ValueOK(); ok && v != nil {
			r.Expires = millis(now.Add(time.Duration(*v) * time.Second))
		}
		r.Updated = millis(now)
		return r, nil
	}, func(cur, next *record) error {
		if next.Expires == cur.Expires {
			return nil
		}
		// The token pointer's lifetime moves first: if the record write then fails, the
		// pointer outlives the record's expiry, which authentication checks anyway. It
		// only ever moves (SET XX), never comes back. With Options.TokenPointers every
		// usable session has one, so a pointer that is gone (revoked meanwhile, or
		// expired by Redis's clock) means the token is dead for good. Without it, a
		// session may have none; the record, checked above and compared-and-set by the
		// write, decides alone, and a pointer written earlier (which tokens of the old
		// form need) keeps following the expiry.
		ttl := time.Duration(next.Expires-millis(s.now())) * time.Millisecond
		moved, err := s.rdb.SetXX(ctx, s.k.token(next.TokenHash), tokenPointer(t, next.ID), ttl).Result()
		if err != nil {
			return storeErr("token expiry", err)
		}
		if !moved && s.tokenPointers {
			return deadTokenError(cur, s.now())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return next.session(t, s.now()), nil
}

// deadTokenError refuses a new expiry for a session whose token can no longer be used:
// moving the expiry would make a token that was already refused work again, so the
// caller must create a new session instead.
func deadTokenError(r *record, now time.Time) error {
	why := "its token is no longer valid"
	switch {
	case r.Revoked != 0:
		why = "the session was revoked"
	case now.UnixMilli() >= r.Expires:
		why = "the session has expired"
	}
	return model.Invalid("input.expiresIn", "cannot be set: "+why+" and a dead token is never revived; create a new session")
}

// Revoke ends a session's token at once and keeps the record. It returns
// model.ErrNotFound for an unknown session.
func (s *Store) Revoke(ctx context.Context, t model.Tenant, id int) (*model.ConnectSession, error) {
	_, next, err := s.modify(ctx, t, id, eventRevoked, func(r *record, now time.Time) (*record, error) {
		if r.Revoked == 0 {
			r.Revoked = millis(now)
			r.Updated = r.Revoked
		}
		return r, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	// The record already refuses the token; removing its pointer frees memory and ends
	// the token before the record is even read.
	if err := s.rdb.Del(ctx, s.k.token(next.TokenHash)).Err(); err != nil {
		s.log.WarnContext(ctx, "revoke: token pointer left to expire", "id", id, "err", err)
	}
	return next.session(t, s.now()), nil
}

// Delete removes a session, its index entries and its pointers. It returns false when
// there was no such session.
func (s *Store) Delete(ctx context.Context, t model.Tenant, id int) (bool, error) {
	cur, err := s.remove(ctx, t, id, eventDeleted, nil)
	if errors.Is(err, model.ErrNotFound) {
		return false, nil
	}
	return cur != nil, err
}

// remove deletes a record atomically with its index entries, then its global pointers.
// keep, when set, may veto the removal by returning an error.
func (s *Store) remove(ctx context.Context, t model.Tenant, id int, event string, keep func(cur *record, now time.Time) error) (*record, error) {
	cur, _, err := s.modify(ctx, t, id, event, func(r *record, now time.Time) (*record, error) {
		if keep != nil {
			if err := keep(r, now); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	// A failure here leaves pointers to a missing record, which readers treat as unknown.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.k.idBucket(id), strconv.Itoa(id))
		p.Del(ctx, s.k.token(cur.TokenHash))
		return nil
	})
	s.cached.forget(s.k.idBucket(id))
	if err != nil {
		s.log.WarnContext(ctx, "delete: pointers left behind", "id", id, "err", err)
	}
	return cur, nil
}
