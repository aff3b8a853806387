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
-- ARGV[6]         lease      the request's lease (from admit)
-- ARGV[7]         tokens     estimated tokens, counted on the next account
-- ARGV[8]         n          number of remaining candidates
-- ARGV[9..8+5n]   id, priority, weight, rpm, tpm   one tuple per candidate
--
-- Whatever the action, the failed account gets: errors += 1, requests += 1,
-- last_error = reason, last_status = status. The next account, when there is
-- one, counts the request in its RPM and TPM windows, and the hold
-- ah:hold:<lease> (derived from ARGV[6]) records it.
--
-- Returns {"ok", account_id} or {"err", reason, ms}: reason and ms as in
-- admit's account choice ("rate_limit_exceeded" when some remaining account
-- is at its own limit, else "no_available_account"; ms -1 when no remaining
-- candidate will serve again, which includes n == 0).

local failed_key = KEYS[1]
local action = ARGV[1]
local cooldown_s = ah_int(ARGV[2], 'cooldown seconds')
local reason = ARGV[3]
local status = ah_int(ARGV[4], 'upstream status')
local r = pick_parse_r(ARGV[5])
local lease = ARGV[6]
local tokens = ah_int(ARGV[7], 'tokens')
local n = pick_count(8)
ah_expect_counts('failover', 1 + n, 8 + 5 * n)
if lease == nil or lease == '' then ah_fail('failover: empty lease') end
local candidates = pick_parse(1, 8, 5)
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

local id, lim, why = pick_choose(candidates, r, now_ms, tokens)
if id == nil then return {'err', why, lim} end
local now_s = math.floor(now_ms / 1000)
if lim then lim_add(lim, tokens) end
local hold_key = 'ah:hold:' .. lease
if redis.call('EXISTS', hold_key) == 1 then
  -- acct_sec: the bucket settle corrects, only for an account with a TPM limit
  redis.call('HSET', hold_key, 'acct_id', id)
  if lim and lim.tpm_limited then
    redis.call('HSET', hold_key, 'acct_sec', ah_int_str(now_s))
  else
    redis.call('HDEL', hold_key, 'acct_sec')
  end
end
return {'ok', id}
