-- Noisy neighbour: the worst combined-filter query, 30 aliases of a count whose two
-- filters never match together (bench/load -alternate), for the tenant of BENCH_KEY.
local fields = {}
for i = 1, 30 do
  fields[i] = "a" .. i .. ': connectSessions(organizationId: ${ORG}, projectId: \\"${PROJECT}\\", first: 0, filter: {type: TEST, category: HRIS}) { totalCount }'
end
local body = '{"query":"{ ' .. table.concat(fields, " ") .. ' }"}'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
