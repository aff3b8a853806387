-- usage_view.lua: what GET /v1/usage shows a key's holder: its user's
-- balance, the key's and user's limits with what remains of them now, spend
-- today (the user's, UTC) and this month (the key's), and the key's last
-- requests. Read-only apart from dropping buckets that left a window and
-- folding the log into the stats (stats_fold.lua).
--
-- KEYS[1]   ah:key:<hmac>   the caller's key
-- ARGV[1]   recent          how many recent requests to return (0..100)
-- ARGV[2]   scan            how many newest log entries to look through (1..10000)
-- Derived inside (documented exception): the user's hash, the limiter keys,
-- the stats hashes and cursor, and the request log.
--
-- Returns {"err", "invalid_api_key"} | {"err", "user_disabled"} |
--   {"ok", json} where json is the response body.
ah_expect_counts('usage_view', 1, 2)
local recent = ah_int(ARGV[1], 'recent')
local scan = ah_int(ARGV[2], 'scan')
if recent < 0 or recent > 100 or scan < 1 or scan > 10000 then ah_fail('usage_view: recent 0..100, scan 1..10000') end
local now_s, now_ms = ah_now()
local k = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'enabled', 'expires_at', 'rpm', 'tpm', 'max_in_flight',
  'spend_limit_monthly', 'spent_month', 'spent_month_id', 'name', 'inflight')
if k[3] ~= '1' then return {'err', 'invalid_api_key'} end
local expires_at = tonumber(k[4]) or 0
if expires_at > 0 and expires_at <= now_s then return {'err', 'invalid_api_key'} end
local uid = k[2] or ''
local u = redis.call('HMGET', 'ah:user:' .. uid, 'enabled', 'balance', 'held', 'rpm', 'tpm', 'max_in_flight', 'name',
  'inflight')
if uid == '' or u[1] ~= '1' then return {'err', 'user_disabled'} end

local function window(scope, id, rpm, tpm, inflight, in_flight)
  local out = {}
  if rpm > 0 or tpm > 0 then
    local L = lim_open(scope, id, now_s)
    if rpm > 0 then out.rpm = {limit = rpm, remaining = math.max(rpm - L.rs, 0)} end
    if tpm > 0 then out.tpm = {limit = tpm, remaining = math.max(tpm - L.ts, 0)} end
  end
  if inflight > 0 then out.max_in_flight = {limit = inflight, in_flight = in_flight} end
  return out
end

-- today's spend comes from the stats: count what the log holds first
money_stats_fold(20000)
local day, _, month = cal_ids(now_s)
local today = redis.call('HMGET', 'ah:stats:d:' .. day, 'u:' .. uid .. ':cost', 'u:' .. uid .. ':req')
local month_spent = 0
if k[10] == month then month_spent = tonumber(k[9]) or 0 end

local requests = {}
if recent > 0 then
  local entries = redis.call('XREVRANGE', 'ah:logs', '+', '-', 'COUNT', scan)
  for _, e in ipairs(entries) do
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    if f.key_id == k[1] then
      requests[#requests + 1] = {time = tonumber(f.time), request_id = f.request_id, model = f.model,
        status = tonumber(f.status), cost = tonumber(f.cost) or 0,
        prompt_tokens = tonumber(f.prompt_tokens) or 0, completion_tokens = tonumber(f.completion_tokens) or 0}
      if #requests >= recent then break end
    end
  end
end

local body = {
  object = 'usage',
  key = {id = k[1], name = k[11] or '', limits = window('key', k[1], tonumber(k[5]) or 0, tonumber(k[6]) or 0, tonumber(k[7]) or 0,
    tonumber(k[12]) or 0),
    spend_limit_monthly = tonumber(k[8]) or 0, spent_this_month = month_spent},
  user = {id = uid, name = u[7] or '', balance = tonumber(u[2]) or 0, held = tonumber(u[3]) or 0,
    limits = window('user', uid, tonumber(u[4]) or 0, tonumber(u[5]) or 0, tonumber(u[6]) or 0,
      tonumber(u[8]) or 0),
    spent_today = tonumber(today[1]) or 0, requests_today = tonumber(today[2]) or 0},
}
-- cjson encodes an empty table as {}: keep "recent" a list
local json = cjson.encode(body)
local items = {}
for i, r in ipairs(requests) do items[i] = cjson.encode(r) end
return {'ok', string.sub(json, 1, -2) .. ',"recent":[' .. table.concat(items, ',') .. ']}'}
