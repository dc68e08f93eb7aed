-- A page of 50 of one customer's sessions (originOwnerId; bench/load gives each customer
-- 60 sessions with -per-owner 60, so they are in the project's value-ordered owner
-- index), the newest first, fields as in page.lua, with totalCount. Placeholders as in
-- point.lua.
local body = [[{"query":"{ connectSessions(organizationId: 1, projectId: \"${PROJECT}\", first: 50, filter: {originOwnerId: \"org_100042\"}) { totalCount edges { cursor node { id originOwnerId provider categories status createdAt } } pageInfo { hasNextPage endCursor } } }"}]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
