-- sweep.lua: settles holds whose lease expired (the node that held them died
-- or lost Redis for longer than the lease). Policy: an expired hold is
-- refunded in full to the user's balance (ledger type "hold_expired") and its
-- in-flight counts are lowered; the request's tokens stay counted in the rate
-- windows. The hold's record ah:hold:<lease> is kept with amount 0 and
-- swept = "1" until it expires (a day after the lease), so that a settle
-- arriving late still charges the right user, from the balance. A user
-- deleted meanwhile is not recreated. Every node runs it every few seconds;
-- it is idempotent, so nodes running it at once do no harm.
--
-- KEYS[1]   ah:holds      ZSET lease -> expiry (unix ms)
-- ARGV[1]   limit         most holds settled in one call (1..1000)
-- Derived inside (documented exception): ah:hold:<lease>, the user's hash
-- and ledger, the key's record (by id through ah:keyid:<id>).
--
-- Returns the number of holds settled.
ah_expect_counts('sweep', 1, 1)
local limit = ah_int(ARGV[1], 'limit')
if limit < 1 or limit > 1000 then ah_fail('sweep: limit must be 1..1000') end
local _, now_ms = ah_now()
local leases = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, limit)
-- lower an in-flight counter of a hash that still exists (never below 0)
local function release(key)
  local v = redis.call('HGET', key, 'inflight')
  if v then redis.call('HSET', key, 'inflight', ah_int_str(math.max((tonumber(v) or 0) - 1, 0))) end
end
for _, lease in ipairs(leases) do
  local hold_key = 'ah:hold:' .. lease
  local h = redis.call('HMGET', hold_key, 'user_id', 'key_id', 'amount', 'request_id', 'ifk', 'ifu', 'swept')
  local uid, kid, amount = h[1] or '', h[2] or '', tonumber(h[3]) or 0
  local live = h[1] and h[7] ~= '1'
  if uid ~= '' then
    local ukey = 'ah:user:' .. uid
    if amount ~= 0 and redis.call('EXISTS', ukey) == 1 then
      local balance = redis.call('HINCRBY', ukey, 'balance', amount)
      redis.call('HINCRBY', ukey, 'held', -amount)
      money_ledger(uid, 'hold_expired', amount, balance, {'request_id', h[4] or ''})
    end
    if live and h[6] == '1' then release(ukey) end
  end
  if kid ~= '' and live and h[5] == '1' then
    local hmac = redis.call('GET', 'ah:keyid:' .. kid)
    if hmac and redis.call('HGET', 'ah:key:' .. hmac, 'id') == kid then release('ah:key:' .. hmac) end
  end
  if h[1] then
    redis.call('HSET', hold_key, 'amount', '0', 'swept', '1')
  end
  redis.call('ZREM', KEYS[1], lease)
end
return #leases
