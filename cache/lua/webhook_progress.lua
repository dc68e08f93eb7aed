-- webhook_progress.lua records an endpoint's delivery progress, only while the caller
-- holds its lease and the endpoint exists: an instance that lost its lease (it stalled
-- past the lease's time and another took over) must not move the cursor back, nor bring
-- back a deleted endpoint. Go: Store.RecordWebhook (webhook_delivery.go).
--
--   KEYS[1]    the endpoint's lease (keys.webhookLease)
--   KEYS[2]    the endpoint's hash (keys.webhook)
--   KEYS[3]    its delivery attempts (keys.webhookAttempts)
--   ARGV[1]    the caller's token
--   ARGV[2]    an attempt's JSON to add to the attempts, or '' for none
--   ARGV[3]    how many attempts the list keeps
--   ARGV[4..]  field, value pairs to set in the endpoint's hash
--
-- It returns 1 when written, 0 when the lease is another's, -1 when the endpoint is gone.

local lease_key = KEYS[1]
local endpoint_key = KEYS[2]
local attempts_key = KEYS[3]
local token = ARGV[1]
local attempt = ARGV[2]
local attempts_kept = tonumber(ARGV[3])

if redis.call('GET', lease_key) ~= token then
  return 0
end
if redis.call('EXISTS', endpoint_key) == 0 then
  return -1
end
if #ARGV > 3 then
  redis.call('HSET', endpoint_key, unpack(ARGV, 4))
end
if attempt ~= '' then
  redis.call('LPUSH', attempts_key, attempt)
  redis.call('LTRIM', attempts_key, 0, attempts_kept - 1)
end
return 1
