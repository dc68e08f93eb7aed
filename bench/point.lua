-- Point read: connectSession by id, with the API key from BENCH_KEY. The body's
-- ${NAME} placeholders are filled from BENCH_NAME (bench/run.sh sets them and sends the
-- same body once with curl to check it succeeds). The floor gets the same request.
local body = [[{"query":"query($id: Int!) { connectSession(organizationId: 1, projectId: \"${PROJECT}\", id: $id) { id originOwnerId provider categories status createdAt expiresAt } }","variables":{"id":${ID}}}]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.body = (body:gsub("%${(%u+)}", function(k) return os.getenv("BENCH_" .. k) or "" end))
