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
//	ARGV[5]        the encoded record before its id
//	ARGV[6]        event channel ("" = none)
//	ARGV[7]        event time (ms)
//	ARGV[8]        tenant base (every index key starts with it)
//	ARGV[9]        the token pointer's key (keys.token)
//	ARGV[10]       the token pointer's lifetime in milliseconds
//	ARGV[11]       the encoded record after its id: the record is ARGV[5] .. id .. ARGV[11]
//	ARGV[12]       how the record writes its id: "b" a uvarint (binary form), else decimal
//	ARGV[13]       the event's JSON record after its id: '{"i":' .. id .. ARGV[13]
//	ARGV[14 ..]    one score per index, in KEYS order
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
local rid = sid
if ARGV[12] == 'b' then
  local n, t = id, {}
  while n >= 128 do
    t[#t + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  t[#t + 1] = string.char(n)
  rid = table.concat(t)
end
local rec = ARGV[5] .. rid .. ARGV[11]
redis.call('HSET', ARGV[2] .. string.format('%d', math.floor(id / tonumber(ARGV[3]))), sid, ARGV[4])
redis.call('SET', ARGV[9], ARGV[4] .. ':' .. sid, 'PX', ARGV[10])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('SET', key, rec)
local m = string.char(math.floor(id / 16777216) % 256, math.floor(id / 65536) % 256, math.floor(id / 256) % 256, id % 256)
for i = 3, #KEYS do
  ix_add(ix_open(ARGV[8], KEYS[i]), ARGV[i + 11], m)
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], '{"type":"CREATED","id":' .. sid .. ',"at":' .. ARGV[7] .. ',"r":{"i":' .. sid .. ARGV[13] .. '}')
end
return id
`)

// jsonHead is how every record in the JSON form starts before its id is known (id 0).
const jsonHead = `{"i":0`

// splitAtID splits a record encoded with id 0 around that id, for createScript to put
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

// createScripted runs createScript: one round trip for the whole create.
func (s *Store) createScripted(ctx context.Context, t model.Tenant, in *model.CreateConnectSessionInput) (*model.ConnectSession, string, error) {
	now := s.now()
	r, secret := newRecord(in, 0, now)
	head, tail, bin := splitAtID(s.encode(r))
	idForm, eventTail := "", ""
	if bin {
		idForm = "b"
	}
	channel := s.k.events(t)
	if channel != "" {
		j := r.encodeJSON()
		if !strings.HasPrefix(j, jsonHead) {
			panic("cache: JSON record does not start with its id: " + j)
		}
		eventTail = j[len(jsonHead):]
	}
	join, scores := s.createIndexes(t, r)
	keys := make([]string, 0, 2+len(join))
	keys = append(keys, s.k.seq(), s.k.tenants())
	keys = append(keys, join...)
	args := make([]any, 0, 13+len(scores))
	args = append(args, s.k.recordPrefix(t), s.k.idBucketPrefix(), idBucketSize, tenantTag(t),
		head, channel, millis(now), s.k.tenantBase(t),
		s.k.token(r.TokenHash), r.Expires-r.Created, tail, idForm, eventTail)
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
