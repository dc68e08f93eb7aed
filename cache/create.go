package cache

import (
	"context"
	"math"
	"strings"

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
	eventTail := ""
	channel := s.k.events(t)
	if channel != "" {
		j := r.encodeJSON()
		if !strings.HasPrefix(j, jsonHead) {
			panic("cache: JSON record does not start with its id: " + j)
		}
		eventTail = j[len(jsonHead):]
	}
	join, scores := s.createIndexes(t, r)
	c := &createCall{
		seq: s.k.seq(), tenants: s.k.tenants(), indexes: join,
		recordPrefix: s.k.recordPrefix(t), bucketPrefix: s.k.idBucketPrefix(), bucketSize: idBucketSize,
		tag: tenantTag(t), recordHead: head, recordTail: tail, binaryID: bin,
		channel: channel, eventAt: millis(now), eventTail: eventTail,
		base: s.k.tenantBase(t), tokenKey: s.k.token(r.TokenHash), tokenTTL: r.Expires - r.Created,
		scores: scores,
	}
	id, err := c.run(ctx, s.rdb).Int()
	if err != nil {
		// Connection failures wrap model.ErrUnavailable; the script's own refusals (id
		// sequence exhausted, record already there) are internal errors.
		return nil, "", storeErr("create", err)
	}
	r.ID = id
	return r.session(t, now), sessionToken(id, secret), nil
}
