-- post.lua: wrk script for benches/compare.sh. POSTs the same block request blockade
-- sends (compact JSON, BATCH IDs from FIRST_ID, one blockTill) with the same headers, so
-- wrk measures what the imitation can answer for exactly that body.
--
-- Environment: WRK_KEY (the imitation's key, default "bench-key"), BATCH (default 100),
-- FIRST_ID (default 1000001). Non-200 answers are counted by wrk itself
-- ("Non-2xx or 3xx responses"), and compare.sh refuses a run that has any.

local key = os.getenv("WRK_KEY") or "bench-key"
local batch = tonumber(os.getenv("BATCH") or "100")
local first = tonumber(os.getenv("FIRST_ID") or "1000001")

local ids = {}
for i = 0, batch - 1 do
  ids[#ids + 1] = string.format("%d", first + i)
end

wrk.method = "POST"
wrk.path = "/api/v1/crm/block-visitor"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"data":[' .. table.concat(ids, ",") ..
  '],"type":"contact","blockTill":"2030-01-01T00:00:00.000Z"}'
