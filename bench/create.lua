-- createConnectSession with every optional field set (the shape of the memory mix);
-- each request creates a new session and token. Placeholders as in point.lua.
local body = [[{"query":"mutation($in: CreateConnectSessionInput!) { createConnectSession(input: $in) { token connectSession { id status createdAt expiresAt } } }","variables":{"in":{"organizationId":1,"projectId":"${PROJECT}","originOwnerId":"org_100042","originOwnerName":"Customer Company 42","originUsername":"user42@customer42.example.com","provider":"hibob","categories":["HRIS","ATS"],"accountId":"acct_500042","label":"HR system 42","metadata":{"plan":"growth","seats":42},"multiple":false}}}]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
