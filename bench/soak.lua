-- Soak mix for wrk: 80% point reads of ids 1..BENCH_IDS, 10% pages of 20, 10% creates,
-- all with the key in BENCH_KEY. A response that is not 200 or carries GraphQL errors
-- counts as a failure; done() prints the totals for bench/soak.sh to check.
local key = "Bearer " .. (os.getenv("BENCH_KEY") or "")
local ids = tonumber(os.getenv("BENCH_IDS") or "1000")
local threads = {}
local n = 0

local point = [[{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"soak\", id: $id) { id status provider } }","variables":{"id":%d}}]]
local page = [[{"query":"{ connectSessions(organizationId: 1, projectId: \"soak\", first: 20) { totalCount nodes { id status } pageInfo { endCursor } } }"}]]
local create = [[{"query":"mutation { createConnectSession(input: {organizationId: 1, projectId: \"soak\", originOwnerId: \"soak-%d\", originOwnerName: \"Soak\", provider: \"hibob\", categories: [HRIS]}) { token } }"}]]

function setup(thread)
  table.insert(threads, thread)
end

function init()
  failures = 0
  requests = 0
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  n = n + 1
  local r = math.random(100)
  local body
  if r <= 80 then
    body = string.format(point, math.random(ids))
  elseif r <= 90 then
    body = page
  else
    body = string.format(create, n)
  end
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["Authorization"] = key}, body)
end

function response(status, headers, body)
  requests = requests + 1
  if status ~= 200 or body:find('"errors"', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests_)
  local total, failed = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("requests")
    failed = failed + t:get("failures")
  end
  io.write(string.format("SOAK requests=%d failures=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    total, failed, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
