-- A page of 50: the newest sessions of the tenant, a cursor per edge, six fields per
-- node, totalCount and pageInfo. Placeholders as in point.lua.
local body = [[{"query":"{ connectSessions(organizationId: 1, projectId: \"${PROJECT}\", first: 50) { totalCount edges { cursor node { id originOwnerId provider categories status createdAt } } pageInfo { hasNextPage endCursor } } }"}]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
