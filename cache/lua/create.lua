-- create.lua is a whole create in one round trip, on a single server only (it builds
-- the record and id-bucket keys from the new id, which a cluster does not allow across
-- slots): it takes the next id, writes the id pointer, the token pointer (expiring with
-- the session; only with TOKEN_POINTERS=write, for instances that authenticate through
-- it), the tenant registry entry, the record and its index entries, and appends the
-- CREATED event to the tenant's log and publishes it, atomically. On a cluster, Create takes three steps instead (id,
-- pointers, tenant script). Go: createCall (create.go).
--
--   KEYS[1]        id sequence
--   KEYS[2]        tenant registry (set)
--   KEYS[3 ..]     the indexes the record joins (their plain keys, see keys.go)
--
-- Formats that hold the new id come from Go in parts, the id going between them (see
-- hole in scripts.go), so that each is written once, in Go:
--
--   ARGV[1], [2]   the record key around its id (keys.recordKey)
--   ARGV[3]        id bucket key prefix (id / ARGV[4] is appended)
--   ARGV[4]        id bucket size
--   ARGV[5]        tenant tag
--   ARGV[6], [7]   the encoded record around its id
--   ARGV[8]        how the record writes its id: "b" a uvarint (binary form), else decimal
--   ARGV[9]        tenant base (every index key starts with it)
--   ARGV[10]       the token pointer's key (keys.token; "" = write no token pointer)
--   ARGV[11]       the token pointer's lifetime in milliseconds
--   ARGV[12], [13] the token pointer's value around its id (tokenPointerText)
--   ARGV[14]       event channel ("" = none)
--   ARGV[15], [16] the CREATED event's header around its id (eventHeader)
--   ARGV[17..21]   the tenant's event log (keys.eventLog) and its cut (keys.eventLogCut),
--                  the oldest id it keeps, the most entries it keeps, the write's time in
--                  ms (log_event, lib.lua)
--   ARGV[22 ..]    one score per index, in KEYS order
--
-- It returns the new id.

local seq_key, tenants_key = KEYS[1], KEYS[2]
local key_head, key_tail = ARGV[1], ARGV[2]
local bucket_prefix, bucket_size = ARGV[3], tonumber(ARGV[4])
local tag = ARGV[5]
local record_head, record_tail = ARGV[6], ARGV[7]
local binary_id = ARGV[8] == 'b'
local base = ARGV[9]
local token_key, token_ttl = ARGV[10], ARGV[11]
local pointer_head, pointer_tail = ARGV[12], ARGV[13]
local channel = ARGV[14]
local event_head, event_tail = ARGV[15], ARGV[16]
local log, log_cut, log_min, log_max, at = ARGV[17], ARGV[18], ARGV[19], tonumber(ARGV[20]), ARGV[21]
-- KEYS[i] (an index) has its score in ARGV[i + SCORES].
local SCORES = 19

local id = redis.call('INCR', seq_key)
if id > {{.MaxID}} then
  return redis.error_reply('ERR cache: id sequence exhausted at ' .. id)
end
local sid = string.format('%d', id)
local key = key_head .. sid .. key_tail
if redis.call('EXISTS', key) == 1 then
  return redis.error_reply('ERR cache: create ' .. sid .. ': record already exists')
end
local rid = sid
if binary_id then rid = uvarint(id) end
local value = record_head .. rid .. record_tail
local message, event_id
if channel ~= '' then
  message = event_head .. sid .. event_tail
  event_id = log_event(log, log_cut, log_min, log_max, at, message, value)
end
redis.call('HSET', bucket_prefix .. string.format('%d', math.floor(id / bucket_size)), sid, tag)
if token_key ~= '' then
  redis.call('SET', token_key, pointer_head .. sid .. pointer_tail, 'PX', token_ttl)
end
redis.call('SADD', tenants_key, tag)
redis.call('SET', key, value)
local m = member_of(id)
for i = 3, #KEYS do
  ix_add(ix_open(base, KEYS[i]), ARGV[i + SCORES], m)
end
if channel ~= '' then
  redis.call('PUBLISH', channel, event_id .. ' ' .. message .. '\n' .. value)
end
return id
