-- create.lua is a whole create in one round trip, on a single server only (it builds
-- the record and id-bucket keys from the new id, which a cluster does not allow across
-- slots): it takes the next id, writes the id pointer, the token pointer (expiring with
-- the session), the tenant registry entry, the record and its index entries, and
-- publishes the CREATED event, atomically. On a cluster, Create takes three steps
-- instead (id, pointers, tenant script). Go: createCall (create.go).
--
--   KEYS[1]        id sequence
--   KEYS[2]        tenant registry (set)
--   KEYS[3 ..]     the indexes the record joins (their plain keys, see keys.go)
--   ARGV[1]        record key prefix (the id is appended)
--   ARGV[2]        id bucket key prefix (id / ARGV[3] is appended)
--   ARGV[3]        id bucket size
--   ARGV[4]        tenant tag
--   ARGV[5]        the encoded record before its id
--   ARGV[6]        event channel ("" = none)
--   ARGV[7]        event time (ms)
--   ARGV[8]        tenant base (every index key starts with it)
--   ARGV[9]        the token pointer's key (keys.token)
--   ARGV[10]       the token pointer's lifetime in milliseconds
--   ARGV[11]       the encoded record after its id: the record is ARGV[5] .. id .. ARGV[11]
--   ARGV[12]       how the record writes its id: "b" a uvarint (binary form), else decimal
--   ARGV[13]       the event's JSON record after its id: '{"i":' .. id .. ARGV[13]
--   ARGV[14 ..]    one score per index, in KEYS order
--
-- It returns the new id.

local seq_key, tenants_key = KEYS[1], KEYS[2]
local record_prefix = ARGV[1]
local bucket_prefix, bucket_size = ARGV[2], tonumber(ARGV[3])
local tag = ARGV[4]
local record_head = ARGV[5]
local channel, event_at = ARGV[6], ARGV[7]
local base = ARGV[8]
local token_key, token_ttl = ARGV[9], ARGV[10]
local record_tail = ARGV[11]
local binary_id = ARGV[12] == 'b'
local event_tail = ARGV[13]
-- KEYS[i] (an index) has its score in ARGV[i + SCORES].
local SCORES = 11

local id = redis.call('INCR', seq_key)
if id > {{.MaxID}} then
  return redis.error_reply('ERR cache: id sequence exhausted at ' .. id)
end
local sid = string.format('%d', id)
local key = record_prefix .. sid
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('ERR cache: create ' .. sid .. ': record already exists')
end
local rid = sid
if binary_id then rid = uvarint(id) end
redis.call('HSET', bucket_prefix .. string.format('%d', math.floor(id / bucket_size)), sid, tag)
redis.call('SET', token_key, tag .. ':' .. sid, 'PX', token_ttl)
redis.call('SADD', tenants_key, tag)
redis.call('SET', key, record_head .. rid .. record_tail)
local m = member_of(id)
for i = 3, #KEYS do
  ix_add(ix_open(base, KEYS[i]), ARGV[i + SCORES], m)
end
if channel ~= '' then
  redis.call('PUBLISH', channel, '{"type":"CREATED","id":' .. sid .. ',"at":' .. event_at .. ',"r":{"i":' .. sid .. event_tail .. '}')
end
return id
