-- Noisy neighbour: the worst combined-filter query, for the tenant of BENCH_KEY: a count
-- whose two filters never match together (bench/load -alternate). Either NOISY_ALIASES
-- (default 9, the most the default COMPLEXITY_LIMIT lets through; 30 before combined
-- filters were priced) aliases on project BENCH_PROJECT, or, when NOISY_PROJECTS is set
-- (comma-separated), one alias on each of those projects of the organization.
local fields = {}
local call = 'connectSessions(organizationId: ${ORG}, projectId: \\"%s\\", first: 0, filter: {type: TEST, category: HRIS}) { totalCount }'
local projects = os.getenv("NOISY_PROJECTS") or ""
if projects ~= "" then
  for p in projects:gmatch("[^,]+") do
    fields[#fields + 1] = "a" .. (#fields + 1) .. ": " .. string.format(call, p)
  end
else
  for i = 1, tonumber(os.getenv("NOISY_ALIASES") or "9") do
    fields[i] = "a" .. i .. ": " .. string.format(call, "${PROJECT}")
  end
end
local body = '{"query":"{ ' .. table.concat(fields, " ") .. ' }"}'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
