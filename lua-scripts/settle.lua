-- settle.lua: the end of a request on an account. This version updates the
-- account's health record only (money is settled here in a later version).
--
-- KEYS[1]   ah:acct:<id>   the account that served the request
-- ARGV[1]   outcome        "ok"; "stream_error": a 200 whose stream then
--                          failed, counts against health but no cooldown;
--                          "client_error": an upstream 4xx passed to the
--                          client, not the account's fault: a request only
-- ARGV[2]   status         upstream HTTP status (integer)
-- ARGV[3]   latency_ms     integer >= 0
--
-- Effects: requests += 1; for stream_error also errors += 1 and
-- stream_errors += 1; last_status = status; last_used_at = now (unix s);
-- latency_ewma_ms = old * 0.8 + latency * 0.2 (the first sample is taken
-- as is), stored as a decimal string with at most one decimal.
-- Returns 1.

local acct_key = KEYS[1]
local outcome = ARGV[1]
ah_expect_counts('settle', 1, 3)
local status = ah_int(ARGV[2], 'upstream status')
local latency = ah_int(ARGV[3], 'latency ms')
if outcome ~= 'ok' and outcome ~= 'stream_error' and outcome ~= 'client_error' then
  ah_fail('settle: outcome must be ok, stream_error or client_error, got ' .. tostring(outcome))
end
if latency < 0 then
  ah_fail('settle: latency ms must be >= 0, got ' .. latency)
end

local now_s = ah_now()

-- One decimal at most: round half up to tenths, then print without a
-- trailing ".0" ("120", "100.2").
local function tenths_str(x)
  local t = math.floor(x * 10 + 0.5)
  if t % 10 == 0 then return ah_int_str(t / 10) end
  return string.format('%d.%d', math.floor(t / 10), t % 10)
end

redis.call('HINCRBY', acct_key, 'requests', 1)
if outcome == 'stream_error' then
  redis.call('HINCRBY', acct_key, 'errors', 1)
  redis.call('HINCRBY', acct_key, 'stream_errors', 1)
end
local old = tonumber(redis.call('HGET', acct_key, 'latency_ewma_ms'))
local ewma = latency
if old ~= nil then ewma = old * 0.8 + latency * 0.2 end
redis.call('HSET', acct_key,
  'last_status', ah_int_str(status),
  'last_used_at', ah_int_str(now_s),
  'latency_ewma_ms', tenths_str(ewma))
return 1
