-- failover.lua: one failover step. Records the failure of the account that
-- just failed, then chooses the next account among the remaining candidates
-- (see lib/pick.lua; the node leaves out accounts already tried).
--
-- KEYS[1]         ah:acct:<failed id>   the account that just failed
-- KEYS[2..n+1]    ah:acct:<id>          remaining candidates, in the order of
--                                       the triples in ARGV
-- ARGV[1]         action     "disable": disabled = "1", disabled_reason =
--                            ARGV[3]; stays until account_reset (401/403)
--                            "cool": cooldown_until = max(existing,
--                            now_ms + ARGV[2] * 1000), so re-cooling keeps
--                            the later deadline
--                            "none": only count the error
-- ARGV[2]         cooldown   seconds, integer in [0, 1e9] (used by "cool" only)
-- ARGV[3]         reason     text, e.g. "upstream 500"
-- ARGV[4]         status     upstream HTTP status, 0 for a timeout or a
--                            connection error
-- ARGV[5]         r          the draw, a decimal string in [0, 1)
-- ARGV[6]         n          number of remaining candidates
-- ARGV[7..6+3n]   id, priority, weight   one triple per candidate
--
-- Whatever the action, the failed account gets: errors += 1, requests += 1,
-- last_error = reason, last_status = status.
--
-- Returns {"ok", account_id} or {"err", "no_available_account", ms} (ms as
-- in admit: the soonest cooldown end among the remaining candidates, -1 when
-- none is cooling, which includes n == 0).

local failed_key = KEYS[1]
local action = ARGV[1]
local cooldown_s = ah_int(ARGV[2], 'cooldown seconds')
local reason = ARGV[3]
local status = ah_int(ARGV[4], 'upstream status')
local r = pick_parse_r(ARGV[5])
local n = pick_count(6)
ah_expect_counts('failover', 1 + n, 6 + 3 * n)
local candidates = pick_parse(1, 6)
if action ~= 'disable' and action ~= 'cool' and action ~= 'none' then
  ah_fail('failover: action must be disable, cool or none, got ' .. tostring(action))
end
-- the upper bound (about 31 years) keeps now_ms + cooldown below 2^53
if cooldown_s < 0 or cooldown_s > 1000000000 then
  ah_fail('failover: cooldown seconds must be in [0, 1e9], got ' .. cooldown_s)
end

local _, now_ms = ah_now()

redis.call('HINCRBY', failed_key, 'errors', 1)
redis.call('HINCRBY', failed_key, 'requests', 1)
redis.call('HSET', failed_key, 'last_error', reason,
  'last_status', ah_int_str(status))

if action == 'disable' then
  redis.call('HSET', failed_key, 'disabled', '1', 'disabled_reason', reason)
elseif action == 'cool' then
  local existing = tonumber(redis.call('HGET', failed_key, 'cooldown_until')) or 0
  local deadline = now_ms + cooldown_s * 1000
  if existing > deadline then deadline = existing end
  redis.call('HSET', failed_key, 'cooldown_until', ah_int_str(deadline))
end

local id, retry_ms = pick_choose(candidates, r, now_ms)
if id == nil then return {'err', 'no_available_account', retry_ms} end
return {'ok', id}
