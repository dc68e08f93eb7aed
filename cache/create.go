package cache

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// createScript is a whole create in one round trip, on a single server only (it builds
// the record and id-bucket keys from the new id, which a cluster does not allow across
// slots): it takes the next id, writes the id pointer, the token pointer (expiring with
// the session), the tenant registry entry, the record and its index entries, and
// publishes the CREATED event, atomically. On a
// cluster, Create takes three steps instead (id, pointers, tenant script).
//
//	KEYS[1]        id sequence
//	KEYS[2]        tenant registry (set)
//	KEYS[3 ..]     the indexes the record joins (their plain keys, see keys)
//	ARGV[1]        record key prefix (the id is appended)
//	ARGV[2]        id bucket key prefix (id / ARGV[3] is appended)
//	ARGV[3]        id bucket size
//	ARGV[4]        tenant tag
//	ARGV[5]        the encoded record after its id: the record is '{"i":' .. id .. ARGV[5]
//	ARGV[6]        event channel ("" = none)
//	ARGV[7]        event time (ms)
//	ARGV[8]        tenant base (every index key starts with it)
//	ARGV[9]        the token pointer's key (keys.token)
//	ARGV[10]       the token pointer's lifetime in milliseconds
//	ARGV[11 ..]    one score per index, in KEYS order
//
// It returns the new id.
var createScript = redis.NewScript(ixLua + `
local id = redis.call('INCR', KEYS[1])
if id > 2147483647 then
  return redis.error_reply('ERR cache: id sequence exhausted at ' .. id)
end
local sid = string.format('%d', id)
local key = ARGV[1] .. sid
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('ERR cache: create ' .. sid .. ': record already exists')
end
local rec = '{"i":' .. sid .. ARGV[5]
redis.call('HSET', ARGV[2] .. string.format('%d', math.floor(id / tonumber(ARGV[3]))), sid, ARGV[4])
redis.call('SET', ARGV[9], ARGV[4] .. ':' .. sid, 'PX', ARGV[10])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SET', key, rec)
local m = string.char(math.floor(id / 16777216) % 256, math.floor(id / 65536) % 256, math.floor(id / 256) % 256, id % 256)
for i = 3, #KEYS do
  ix_add(ix_open(ARGV[8], KEYS[i]), ARGV[i + 8], m)
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], '{"type":"CREATED","id":' .. sid .. ',"at":' .. ARGV[7] .. ',"r":' .. rec .. '}')
end
return id
`)

// recordHead is how every encoded record starts before its id is known (id 0).
const recordHead = `{"i":0`

// createScripted runs createScript: one round trip for the whole create.
func (s *Store) createScripted(ctx context.Context, t model.Tenant, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	now := s.now()
	r, secret := newRecord(in, 0, now)
	enc := r.encode()
	if !strings.HasPrefix(enc, recordHead) {
		panic("cache: encoded record does not start with its id: " + enc)
	}
	join, scores := s.createIndexes(t, r)
	keys := make([]string, 0, 2+len(join))
	keys = append(keys, s.k.seq(), s.k.tenants())
	keys = append(keys, join...)
	args := make([]any, 0, 10+len(scores))
	args = append(args, s.k.recordPrefix(t), s.k.idBucketPrefix(), idBucketSize, tenantTag(t),
		enc[len(recordHead):], s.k.events(t), millis(now), s.k.tenantBase(t),
		s.k.token(r.TokenHash), r.Expires-r.Created)
	for _, sc := range scores {
		args = append(args, sc)
	}
	id, err := createScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		// Connection failures wrap model.ErrUnavailable; the script's own refusals (id
		// sequence exhausted, record already there) are internal errors.
		return nil, "", storeErr("create", err)
	}
	r.ID = id
	return r.session(t, now), sessionToken(id, secret), nil
}
