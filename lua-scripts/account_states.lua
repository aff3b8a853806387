-- account_states.lua: the live state of many provider accounts at once, for
-- the admin API's account listing and the /metrics gauge of cooling accounts.
-- Read-only.
--
-- KEYS[1..n]  ah:acct:<id> of each account asked about
-- ARGV        none
--
-- Returns { now_ms, { cooldown_until, disabled, disabled_reason, requests, errors, latency_ewma_ms } per key }
-- with missing fields as empty strings.
ah_expect_counts('account_states', #KEYS, 0)
local _, now_ms = ah_now()
local out = {}
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'cooldown_until', 'disabled', 'disabled_reason', 'requests', 'errors', 'latency_ewma_ms')
  for j = 1, 6 do
    if not v[j] then v[j] = '' end
  end
  out[i] = v
end
return { now_ms, out }
