-- Point reads spread over many sessions: each request reads connectSession for an id
-- drawn at random from BENCH_FIRST..BENCH_LAST in project BENCH_PROJECT, so the service's
-- read cache fills up to its size (bench/run.sh measures the peak RSS after it).
local first = tonumber(os.getenv("BENCH_FIRST") or "1")
local last = tonumber(os.getenv("BENCH_LAST") or "1")
local project = os.getenv("BENCH_PROJECT") or ""
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")}
local query = [[{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"]] .. project ..
  [[\", id: $id) { id originOwnerId provider categories status createdAt expiresAt } }","variables":{"id":]]
request = function()
  return wrk.format("POST", nil, headers, query .. math.random(first, last) .. "}}")
end
