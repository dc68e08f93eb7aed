-- webhook_release.lua lets go of an endpoint's delivery lease if the caller still holds
-- it. Go: Store.ReleaseWebhook (webhook_delivery.go).
--
--   KEYS[1]   the endpoint's lease (keys.webhookLease)
--   ARGV[1]   the caller's token

local lease_key = KEYS[1]
local token = ARGV[1]

if redis.call('GET', lease_key) == token then
  return redis.call('DEL', lease_key)
end
return 0
