package cache

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// manyScript resolves ids to records on a single server in one round trip: each id's
// tenant from its pointer bucket, then the record under that tenant.
//
//	KEYS[i]     the pointer bucket of the i-th id
//	ARGV[1]     the key prefix
//	ARGV[i+1]   the i-th id
//
// It returns a tenant tag and a record per id, or two nils. The record key is built as
// keys.recordOfTag builds it.
var manyScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
  local id = ARGV[i + 1]
  local tag = redis.call('HGET', KEYS[i], id)
  local rec = false
  if tag then
    rec = redis.call('GET', ARGV[1] .. ':{' .. tag .. '}:s:' .. id)
  end
  if rec then
    out[2 * i - 1] = tag
    out[2 * i] = rec
  else
    out[2 * i - 1] = false
    out[2 * i] = false
  end
end
return out
`)

// GetMany returns the sessions with the given ids, whichever tenants they belong to, in
// input order, with nil where there is none. On a single server it costs one round trip
// (a script follows the id pointers); on a cluster, where pointers and records live in
// different slots, two pipelined ones. The caller must check each session's tenant
// against its credentials.
func (s *Store) GetMany(ctx context.Context, ids []int) ([]*model.ConnectSession, error) {
	out := make([]*model.ConnectSession, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var tags, records []any
	var err error
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		tags, records, err = s.getManyPipelined(ctx, ids)
	} else {
		tags, records, err = s.getManyScripted(ctx, ids)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range ids {
		tag, _ := tags[i].(string)
		raw, _ := records[i].(string)
		if tag == "" || raw == "" {
			continue
		}
		t, ok := parseTenantTag(tag)
		if !ok {
			continue
		}
		r, err := decodeRecord(raw)
		if err != nil {
			return nil, err
		}
		out[i] = r.session(t, now)
	}
	return out, nil
}

func (s *Store) getManyScripted(ctx context.Context, ids []int) (tags, records []any, err error) {
	keys := make([]string, len(ids))
	args := make([]any, 0, len(ids)+1)
	args = append(args, s.k.prefix)
	for i, id := range ids {
		keys[i] = s.k.idBucket(id)
		args = append(args, strconv.Itoa(id))
	}
	res, err := manyScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, storeErr("get many", err)
	}
	tags, records = make([]any, len(ids)), make([]any, len(ids))
	for i := range ids {
		if 2*i+1 < len(res) {
			tags[i], records[i] = res[2*i], res[2*i+1]
		}
	}
	return tags, records, nil
}

func (s *Store) getManyPipelined(ctx context.Context, ids []int) (tags, records []any, err error) {
	ptrs := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			ptrs[i] = p.HGet(ctx, s.k.idBucket(id), strconv.Itoa(id))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, storeErr("get many pointers", err)
	}
	tags, records = make([]any, len(ids)), make([]any, len(ids))
	recs := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			if tag, err := ptrs[i].Result(); err == nil {
				tags[i] = tag
				recs[i] = p.Get(ctx, s.k.recordOfTag(tag, id))
			}
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, storeErr("get many records", err)
	}
	for i, c := range recs {
		if c != nil {
			if v, err := c.Result(); err == nil {
				records[i] = v
			}
		}
	}
	return tags, records, nil
}
