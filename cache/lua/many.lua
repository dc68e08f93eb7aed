-- many.lua resolves ids to records on a single server in one round trip: each id's
-- tenant from its pointer bucket, then the record under that tenant. Go: getManyScripted
-- (many.go).
--
--   KEYS[i]     the pointer bucket of the i-th id (keys.idBucket)
--   ARGV[1]     the key prefix
--   ARGV[i+1]   the i-th id
--
-- It returns a tenant tag and a record per id, or two nils. The record key is built as
-- keys.recordOfTag builds it.

local prefix = ARGV[1]

local out = {}
for i = 1, #KEYS do
  local id = ARGV[i + 1]
  local tag = redis.call('HGET', KEYS[i], id)
  local rec = false
  if tag then
    rec = redis.call('GET', prefix .. ':{' .. tag .. '}:s:' .. id)
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
