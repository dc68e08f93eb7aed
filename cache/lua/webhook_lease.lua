-- Takes or renews an endpoint's delivery lease: held by one instance at a time, for ttl
-- milliseconds from each call. Returns 1 when the caller holds it, 0 when another does.
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
