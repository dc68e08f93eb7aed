-- webhook_lease.lua takes or renews an endpoint's delivery lease, which one instance
-- holds at a time, for ttl milliseconds from each call. Go: Store.HoldWebhook
-- (webhook_delivery.go).
--
--   KEYS[1]   the endpoint's lease (keys.webhookLease)
--   ARGV[1]   the caller's token
--   ARGV[2]   the lease's time, in milliseconds
--
-- It returns 1 when the caller holds the lease, 0 when another does.

local lease_key = KEYS[1]
local token = ARGV[1]
local ttl = ARGV[2]

if redis.call('SET', lease_key, token, 'NX', 'PX', ttl) then
  return 1
end
if redis.call('GET', lease_key) == token then
  redis.call('PEXPIRE', lease_key, ttl)
  return 1
end
return 0
