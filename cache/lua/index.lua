-- index.lua runs one index operation, for retention and verify/repair. Go: ixCall
-- (index.go).
--
--   KEYS[1]   the index (its plain key)
--   KEYS[2]   the tenant's guard key (keys.guard), only declared
--   ARGV[1]   tenant base
--   ARGV[2]   the operation:
--               "add", "rem"  add or remove entry (ARGV[3] score, ARGV[4] member); on a
--                             value-ordered index (keys.go), "rem" removes the whole
--                             entry ARGV[4]
--               "rebuild"     rewrite the index from its entries (ix_repair)
--               "range"       the lowest ARGV[4] entries with score below ARGV[3]
--   ARGV[5]   "p" to start values of value-ordered fields in keys of their own
--             (Options.PerValueIndexes), else "" (VX_SHARED, lib.lua)
--
-- It returns 1, or for "range" a flat list of member, score pairs.

local ix = ix_open(ARGV[1], KEYS[1])
local op = ARGV[2]
local score, arg = ARGV[3], ARGV[4]
VX_SHARED = ARGV[5] ~= 'p'

if ix.lx then
  if op == 'rem' then
    lx_rem(ix, arg)
  elseif op == 'rebuild' then
    ix_repair(ix)
  else
    return redis.error_reply('ERR cache: ' .. op .. ' on a value-ordered index')
  end
elseif op == 'add' then
  ix_add(ix, score, arg)
elseif op == 'rem' then
  ix_rem(ix, score, arg)
elseif op == 'rebuild' then
  ix_repair(ix)
elseif op == 'range' then
  local out, n = {}, tonumber(arg)
  if n <= 0 then return out end
  ix_walk(ix, false, '-inf', '(' .. score, nil, n, function(s, m, raw)
    out[#out + 1] = m
    out[#out + 1] = raw
    return #out < 2 * n
  end)
  return out
end
return 1
