-- Lets go of an endpoint's delivery lease if the caller still holds it.
local lease_key = KEYS[1]
local token = ARGV[1]

if redis.call('GET', lease_key) == token then
  return redis.call('DEL', lease_key)
end
return 0
