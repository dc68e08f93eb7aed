-- webhook_lease.lua takes or renews an endpoint's delivery lease, which one instance
-- holds at a time, for ttl milliseconds from each call. Go: Store.HoldWebhook and
-- Store.ExtendWebhook (webhook_delivery.go).
--
--   KEYS[1]   the endpoint's lease (keys.webhookLease)
--   ARGV[1]   the caller's token
--   ARGV[2]   the lease's time, in milliseconds
--   ARGV[3]   "extend": only renew a lease the caller still holds, never take a free
--             one (a worker that stalled past its lease must not take it back and go
--             on from what it read before: another instance may have delivered since)
--
-- It returns 1 when the caller holds the lease, 0 when another does (or, to extend,
-- when none does).

local lease_key = KEYS[1]
local token = ARGV[1]
local ttl = ARGV[2]
local extend = ARGV[3] == 'extend'

if not extend and redis.call('SET', lease_key, token, 'NX', 'PX', ttl) then
  return 1
end
if redis.call('GET', lease_key) == token then
  redis.call('PEXPIRE', lease_key, ttl)
  return 1
end
return 0
