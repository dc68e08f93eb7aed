package cache

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// maxID is the highest session id: ids are 4-byte index members (member) and GraphQL
// Ints, which are 32-bit signed.
const maxID = math.MaxInt32

// jsonHead is how every record in the JSON form starts before its id is known (id 0).
const jsonHead = `{"i":0`

// splitAtID splits a record encoded with id 0 around that id, for lua/create.lua to put
// the new id in between; binary reports whether the id is a uvarint (else decimal).
func splitAtID(enc string) (head, tail string, binary bool) {
	if strings.HasPrefix(enc, jsonHead) {
		return jsonHead[:len(jsonHead)-1], enc[len(jsonHead):], false
	}
	// Binary: version, flags (a uvarint: bytes up to one below 0x80), then id 0 (one 0 byte).
	i := 1
	for i < len(enc) && enc[i] >= 0x80 {
		i++
	}
	if len(enc) < i+2 || enc[0] != recordVersion || enc[i+1] != 0 {
		panic("cache: encoded record does not start with its id: " + enc)
	}
	return enc[:i+1], enc[i+2:], true
}

// createScripted runs lua/create.lua: one round trip for the whole create.
func (s *Store) createScripted(ctx context.Context, t model.Tenant, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	now := s.now()
	r, secret := newRecord(in, 0, now)
	head, tail, bin := splitAtID(s.encode(r))
	tag := tenantTag(t)
	var event []string
	channel := s.k.events(t)
	if channel != "" {
		event = around(eventHeader(eventCreated, hole, millis(now), model.ActorFrom(ctx)), 1)
	}
	join, scores := s.createIndexes(t, r)
	c := &createCall{
		seq: s.k.seq(), tenants: s.k.tenants(), indexes: join,
		recordKey: around(s.k.recordKey(tag, hole), 1), bucketPrefix: s.k.idBucketPrefix(), bucketSize: idBucketSize,
		tag: tag, record: []string{head, tail}, binaryID: bin,
		channel: channel, event: event, log: s.logArgs(t, now),
		base: s.k.tenantBase(t), layout: s.layout, scores: scores,
	}
	if s.tokenPointers {
		c.tokenKey, c.tokenTTL = s.k.token(r.TokenHash), r.Expires-r.Created
		c.tokenPointer = around(tokenPointerText(tag, hole), 1)
	}
	id, err := c.run(ctx, s.rdb).Int()
	if err != nil {
		// Connection failures wrap model.ErrUnavailable; the script's own refusals (id
		// sequence exhausted, record already there) are internal errors.
		return nil, "", storeErr("create", err)
	}
	r.ID = id
	// A read of the id before it existed may have cached its absence.
	s.cached.forget(s.k.record(t, id), s.k.idBucket(id))
	return r.session(t, now), sessionToken(id, secret), nil
}

// Create stores a new session from a validated input and returns it with its token,
// which is not kept anywhere in clear. Errors wrap model.ErrUnavailable when Redis cannot
// be reached.
func (s *Store) Create(ctx context.Context, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	t := model.Tenant{OrganizationID: in.OrganizationID, ProjectID: in.ProjectID}
	if !s.sharded {
		// One server: the whole create is one script (see lua/create.lua).
		return s.createScripted(ctx, t, in)
	}
	return s.createSteps(ctx, t, in)
}

// createSteps creates a session on a cluster, where the id sequence and the pointers
// live in other slots than the tenant: the id, then the pointers, then the tenant write.
func (s *Store) createSteps(ctx context.Context, t model.Tenant, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	id64, err := s.rdb.Incr(ctx, s.k.seq()).Result()
	if err != nil {
		return nil, "", storeErr("next id", err)
	}
	if id64 > maxID {
		return nil, "", fmt.Errorf("cache: id sequence exhausted at %d", id64)
	}
	id := int(id64)
	now := s.now()
	r, secret := newRecord(in, id, now)
	token := sessionToken(id, secret)

	// Global pointers first: if the tenant write below fails, they point at nothing and
	// every reader treats them as unknown.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.createPointers(ctx, p, t, r)
		return nil
	})
	if err != nil {
		return nil, "", storeErr("create pointers", err)
	}

	join, scores := s.createIndexes(t, r)
	ok, err := s.apply(ctx, t, id, change{next: s.encode(r), join: join, scores: scores,
		event: encodeEvent(eventCreated, id, now, model.ActorFrom(ctx)), at: now})
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("cache: create %d: record already exists", id)
	}
	return r.session(t, now), token, nil
}

// newRecord builds the record of a new session from a validated input, with a fresh
// token secret (the token is sessionToken(id, secret) once the id is known); it returns
// the record and the secret.
func newRecord(in *model.CreateConnectSessionInput, id int, now time.Time) (*record, string) {
	expiresIn := model.DefaultExpiresIn
	if in.ExpiresIn != nil {
		expiresIn = *in.ExpiresIn
	}
	secret, hash := newSecret()
	r := &record{
		ID:        id,
		Created:   millis(now),
		Updated:   millis(now),
		Expires:   millis(now.Add(time.Duration(expiresIn) * time.Second)),
		Owner:     in.OriginOwnerID,
		OwnerName: in.OriginOwnerName,
		Username:  in.OriginUsername,
		Provider:  in.Provider,
		Account:   in.AccountID,
		Label:     in.Label,
		Test:      in.Type != nil && *in.Type == model.TypeTest,
		Multiple:  in.Multiple != nil && *in.Multiple,
		TokenHash: hash,
	}
	r.setCategories(in.Categories)
	if in.Metadata != nil {
		r.Meta = []byte(in.Metadata)
	}
	return r, secret
}

// createPointers queues a new session's global pointers: id → tenant, the tenant in the
// retention sweep's set and, with Options.TokenPointers, token hash → session (expiring
// with the session).
func (s *Store) createPointers(ctx context.Context, p redis.Pipeliner, t model.Tenant, r *record) {
	tag := tenantTag(t)
	p.HSet(ctx, s.k.idBucket(r.ID), strconv.Itoa(r.ID), tag)
	if s.tokenPointers {
		p.Set(ctx, s.k.token(r.TokenHash), tokenPointer(t, r.ID), time.Duration(r.Expires-r.Created)*time.Millisecond)
	}
	p.SAdd(ctx, s.k.tenants(), tag)
}

// createIndexes lists the indexes a new record joins, with their scores.
func (s *Store) createIndexes(t model.Tenant, r *record) ([]string, []int64) {
	join := s.k.indexKeys(t, r)
	scores := make([]int64, len(join), len(join)+1)
	for i := range scores {
		scores[i] = r.Created
	}
	join = append(join, s.k.expiry(t))
	scores = append(scores, r.Expires)
	return join, scores
}
