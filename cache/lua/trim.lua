-- trim.lua trims one tenant's event log to its retention and length (log_trim in
-- lib.lua), for the retention sweep: logs of tenants that stopped writing are trimmed
-- by nothing else. Go: trimCall (eventlog.go).
--
--   KEYS[1]   the tenant's event log (keys.eventLog)
--   KEYS[2]   its cut (keys.eventLogCut)
--   ARGV[1]   the oldest id it keeps
--   ARGV[2]   the most entries it keeps
--
-- It returns the log's length after trimming.

local log, cut = KEYS[1], KEYS[2]
local min_id, max = ARGV[1], tonumber(ARGV[2])

log_trim(log, cut, min_id, max)
return redis.call('XLEN', log)
