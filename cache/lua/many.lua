-- many.lua resolves ids to records on a single server in one round trip: each id's
-- tenant from its pointer bucket, then the record under that tenant. Go: getManyScripted
-- (many.go).
--
--   KEYS[i]      the pointer bucket of the i-th id (keys.idBucket)
--   ARGV[1..3]   a record key around its tenant tag and id (keys.recordKey): the key is
--                ARGV[1] .. tag .. ARGV[2] .. id .. ARGV[3]
--   ARGV[i+3]    the i-th id
--
-- It returns a tenant tag and a record per id, or two nils.

local key_head, key_mid, key_tail = ARGV[1], ARGV[2], ARGV[3]
local IDS = 3

local out = {}
for i = 1, #KEYS do
  local id = ARGV[i + IDS]
  local tag = redis.call('HGET', KEYS[i], id)
  local rec = false
  if tag then
    rec = redis.call('GET', key_head .. tag .. key_mid .. id .. key_tail)
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
