-- credits.lua: tops up or deducts a user's balance atomically, with the
-- reason in the ledger; an Idempotency-Key makes a repeated call credit once.
--
-- KEYS[1]   ah:user:<uid>
-- KEYS[2]   ah:ledger:<uid>
-- KEYS[3]   ah:idem:<uid>:<idempotency key>, or "" when none was given
-- ARGV[1]   uid
-- ARGV[2]   delta         micro-units, integer, not 0, |delta| < 2^52
-- ARGV[3]   reason        text recorded in the ledger
-- ARGV[4]   idem_key      the Idempotency-Key ("" = none), recorded too
--
-- Returns {"ok", balance, replayed (0|1)} | {"err", "not_found"} |
--   {"err", "insufficient_balance", balance} (a deduction below 0: nothing
--   changes) | {"err", "idempotency_conflict"} (the key was used with another
--   delta).
ah_expect_counts('credits', 3, 4)
local uid, reason, idem = ARGV[1], ARGV[3], ARGV[4]
local delta = ah_int(ARGV[2], 'delta')
if delta == 0 or math.abs(delta) >= 4503599627370496 then ah_fail('credits: delta must be non-zero and below 2^52') end
if KEYS[1] ~= 'ah:user:' .. uid or KEYS[2] ~= 'ah:ledger:' .. uid then ah_fail('credits: KEYS do not match the user') end
if (idem == '') ~= (KEYS[3] == '') then ah_fail('credits: KEYS[3] and ARGV[4] go together') end
if idem ~= '' and KEYS[3] ~= 'ah:idem:' .. uid .. ':' .. idem then ah_fail('credits: KEYS[3] must be ah:idem:<uid>:<idem_key>') end
if redis.call('HGET', KEYS[1], 'id') ~= uid then return {'err', 'not_found'} end
if idem ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local d, b = string.match(seen, '^(%-?%d+):(%-?%d+)$')
    if tonumber(d) ~= delta then return {'err', 'idempotency_conflict'} end
    return {'ok', tonumber(b), 1}
  end
end
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance')) or 0
if balance + delta < 0 then return {'err', 'insufficient_balance', balance} end
balance = balance + delta
redis.call('HSET', KEYS[1], 'balance', ah_int_str(balance))
redis.call('HINCRBY', KEYS[1], 'credited', delta)
money_ledger(uid, delta > 0 and 'topup' or 'deduct', delta, balance, {'reason', reason, 'idempotency_key', idem})
if idem ~= '' then
  redis.call('SET', KEYS[3], ah_int_str(delta) .. ':' .. ah_int_str(balance), 'EX', 86400)
end
return {'ok', balance, 0}
