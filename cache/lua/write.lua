-- write.lua applies one session write atomically: it compares the stored record with the
-- value the caller read (compare-and-set), replaces or deletes it, moves the record's
-- index entries, appends the event to the tenant's log and publishes it, all in one step
-- so that no reader ever sees a record without its index entries or the reverse, no
-- change is without its event in the log (nor an event without its change), and events
-- leave in write order.
-- Go: writeCall (write.go).
--
--   KEYS[1]            record key
--   KEYS[2 .. r+1]     indexes the record leaves (their plain keys, see keys.go)
--   KEYS[r+2 .. n-1]   indexes the record joins
--   KEYS[n]            the tenant's guard key (keys.guard), only declared
--   ARGV[1]            expected current value ("" = the record must not exist)
--   ARGV[2]            new value ("" = delete the record)
--   ARGV[3]            index member
--   ARGV[4]            r, the number of indexes left
--   ARGV[5], ARGV[6]   event channel ("" = no event) and the event's header (events.go)
--   ARGV[7]            the publish command: PUBLISH, or SPUBLISH on a cluster (the
--                      channel carries the tenant's hash tag, so it is in the keys' slot)
--   ARGV[8]            tenant base (every index key starts with it)
--   ARGV[9..13]        the tenant's event log (keys.eventLog) and its cut (keys.eventLogCut),
--                      the oldest id it keeps, the most entries it keeps, the write's time
--                      in ms (log_event, lib.lua)
--   ARGV[14 ..]        one score per index, in KEYS order: the entry's current score for
--                      a left index (a chunked index locates the entry by it), the new
--                      score for a joined one
--
-- It returns 1 when applied and 0 when the record changed since it was read.

local record_key = KEYS[1]
local expected = ARGV[1]
local value = ARGV[2]
local m = ARGV[3]
local leaving = tonumber(ARGV[4])
local channel, message = ARGV[5], ARGV[6]
local publish = ARGV[7]
local base = ARGV[8]
local log, log_cut, log_min, log_max, at = ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]), ARGV[13]
-- KEYS[i] (an index) has its score in ARGV[i + SCORES].
local SCORES = 12

local cur = redis.call('GET', record_key)
if expected == '' then
  if cur then return 0 end
elseif cur ~= expected then
  return 0
end
local event_id
if channel ~= '' then
  event_id = log_event(log, log_cut, log_min, log_max, at, message, value)
end
if value == '' then
  redis.call('DEL', record_key)
elseif value ~= cur then
  redis.call('SET', record_key, value)
end
for i = 2, leaving + 1 do
  ix_rem(ix_open(base, KEYS[i]), ARGV[i + SCORES], m)
end
for i = leaving + 2, #KEYS - 1 do
  ix_add(ix_open(base, KEYS[i]), ARGV[i + SCORES], m)
end
if channel ~= '' then
  redis.call(publish, channel, event_id .. ' ' .. message .. '\n' .. value)
end
return 1
