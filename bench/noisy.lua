-- Noisy neighbour: the worst combined-filter query, NOISY_ALIASES (default 9, the most
-- the default COMPLEXITY_LIMIT lets through; 30 before combined filters were priced)
-- aliases of a count whose two filters never match together (bench/load -alternate), for
-- the tenant of BENCH_KEY.
local fields = {}
for i = 1, tonumber(os.getenv("NOISY_ALIASES") or "9") do
  fields[i] = "a" .. i .. ': connectSessions(organizationId: ${ORG}, projectId: \\"${PROJECT}\\", first: 0, filter: {type: TEST, category: HRIS}) { totalCount }'
end
local body = '{"query":"{ ' .. table.concat(fields, " ") .. ' }"}'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
