-- settle.lua: the end of one request, in one atomic step. Charges the actual
-- cost against the hold (never taking the balance below zero: a shortfall is
-- recorded as unpaid), releases the rest, frees the in-flight slots, corrects
-- the TPM windows from the estimate to the actual tokens, adds to the key's
-- monthly spend and the account's health record, and appends the request log
-- entry (from which the day/hour stats are folded: money_stats_fold).
--
-- KEYS[1]    ah:acct:<id>    the account that served the last attempt
-- ARGV[1]    lease           the request's lease (from admit)
-- ARGV[2]    outcome         "ok"; "stream_error" (a 200 whose stream then
--                            failed: counts against health, no cooldown);
--                            "client_error" (an upstream 4xx passed to the
--                            client); "client_closed" (the client left);
--                            "failed" (every attempt failed: the health record
--                            is left alone, the failover steps counted them);
--                            "released" (the node's call to admit timed out,
--                            the client got 503: whatever that admission
--                            placed is given back, the health record is left
--                            alone; without a hold nothing at all is written)
-- ARGV[3]    status          the upstream's last status (0: none)
-- ARGV[4]    latency_ms      of the last upstream attempt (integer)
-- ARGV[5]    cost            the actual cost in micro-units (integer >= 0)
-- ARGV[6]    tokens          prompt + completion tokens, for TPM (>= 0)
-- ARGV[7]    log_max         approximate cap of the request log
-- ARGV[8]    model           as the client asked (stats dimension)
-- ARGV[9]    channel_id      stats dimension
-- ARGV[10]   client_status   the HTTP status the client got
-- ARGV[11]   prompt_tokens, ARGV[12] completion_tokens (stats)
-- ARGV[13..] field, value    the log entry's other fields (request_id,
--                            upstream_model, account_id, stream, attempts,
--                            latency_ms, first_byte_ms, cached_tokens, error,
--                            client_ip, ...); user_id, key_id, time, cost,
--                            unpaid and status are added here
--
-- Derived inside (documented exception): ah:hold:<lease>, ah:holds, the
-- user's hash and ledger, the key's record (by id through ah:keyid:<id>),
-- the limiter keys and the log stream.
--
-- A hold already gone (swept after its lease expired, or settled twice) is
-- treated as a hold of 0: the cost is then taken from the balance as far as
-- it goes. Returns {charged, unpaid, balance} (balance -1 when the hold
-- named no user).

local acct_key = KEYS[1]
local lease = ARGV[1]
local outcome = ARGV[2]
local status = ah_int(ARGV[3], 'status')
local latency = ah_int(ARGV[4], 'latency_ms')
local cost = ah_int(ARGV[5], 'cost')
local tokens = ah_int(ARGV[6], 'tokens')
local log_max = ah_int(ARGV[7], 'log_max')
local model, channel = ARGV[8], ARGV[9]
local client_status = ah_int(ARGV[10], 'client_status')
local pt = ah_int(ARGV[11], 'prompt_tokens')
local ct = ah_int(ARGV[12], 'completion_tokens')
if #KEYS ~= 1 or #ARGV < 12 or #ARGV % 2 ~= 0 then
  ah_fail('settle: expected 1 key and 12 arguments plus field/value pairs')
end
local outcomes = {ok = true, stream_error = true, client_error = true, client_closed = true, failed = true,
  released = true}
if not outcomes[outcome] then ah_fail('settle: unknown outcome ' .. tostring(outcome)) end
if cost < 0 or tokens < 0 then ah_fail('settle: cost and tokens must be >= 0') end
if latency < 0 then ah_fail('settle: latency_ms must be >= 0') end
if pt < 0 or ct < 0 then ah_fail('settle: prompt_tokens and completion_tokens must be >= 0') end
if log_max < 0 then ah_fail('settle: log_max must be >= 0') end

local now_s = ah_now()

-- One decimal at most: round half up to tenths, then print without a
-- trailing ".0" ("120", "100.2").
local function tenths_str(x)
  local t = math.floor(x * 10 + 0.5)
  if t % 10 == 0 then return ah_int_str(t / 10) end
  return string.format('%d.%d', math.floor(t / 10), t % 10)
end

local hold_key = 'ah:hold:' .. lease
local h = redis.call('HMGET', hold_key, 'user_id', 'key_id', 'amount', 'tpm_est', 'tpm_sec', 'acct_id', 'acct_sec',
  'request_id', 'ifk', 'ifu', 'swept', 'tw')
-- the TPM windows admit counted (k, u, g: key, user, gateway; the account's
-- when acct_sec is set)
local tw = h[12] or ''
local uid, kid = h[1] or '', h[2] or ''
local hold = tonumber(h[3]) or 0
local tpm_est = tonumber(h[4]) or 0
local tpm_sec, acct_sec = tonumber(h[5]), tonumber(h[7])
local acct_id = h[6] or string.sub(acct_key, #AH_ACCT_PREFIX + 1)
-- "released": the node gave up waiting for admit's reply; only an admission
-- that did happen has anything to release (and to log)
if outcome == 'released' and not h[1] then return {0, 0, -1} end
-- in-flight counts to lower: those admit raised and no sweep lowered yet
local live = h[1] and h[11] ~= '1'
local ifk, ifu = live and h[9] == '1', live and h[10] == '1'
redis.call('DEL', hold_key)
redis.call('ZREM', AH_HOLDS_KEY, lease)

-- money
local charged, unpaid, balance = 0, 0, -1
local ukey = 'ah:user:' .. uid
-- a user deleted while the request ran is not recreated by its settlement
local u = uid ~= '' and redis.call('HMGET', ukey, 'id', 'balance', 'held', 'spent', 'inflight') or {}
if u[1] then
  balance = tonumber(u[2]) or 0
  local available = balance + hold
  charged = math.min(cost, math.max(available, 0))
  unpaid = cost - charged
  balance = available - charged
  local fields = {'balance', ah_int_str(balance)}
  if hold ~= 0 then fields[#fields + 1] = 'held'; fields[#fields + 1] = ah_int_str((tonumber(u[3]) or 0) - hold) end
  if charged ~= 0 then fields[#fields + 1] = 'spent'; fields[#fields + 1] = ah_int_str((tonumber(u[4]) or 0) + charged) end
  if ifu then fields[#fields + 1] = 'inflight'; fields[#fields + 1] = ah_int_str(math.max((tonumber(u[5]) or 0) - 1, 0)) end
  redis.call('HSET', ukey, unpack(fields))
  if hold ~= 0 or charged ~= 0 then
    money_ledger(uid, 'charge', hold - charged, balance, {'request_id', ARGV[13] == 'request_id' and ARGV[14] or h[8] or '',
      'hold', ah_int_str(hold), 'cost', ah_int_str(cost), 'unpaid', ah_int_str(unpaid)})
  end
end
local delta = tokens - tpm_est
if uid ~= '' and string.find(tw, 'u', 1, true) then lim_tpm_correct('user', uid, tpm_sec, delta) end
if kid ~= '' then
  if string.find(tw, 'k', 1, true) then lim_tpm_correct('key', kid, tpm_sec, delta) end
  if cost > 0 or ifk then
    -- the key's record (by id): its month's spend and its in-flight count
    local hmac = redis.call('GET', 'ah:keyid:' .. kid)
    local rec = hmac and 'ah:key:' .. hmac
    local f = rec and redis.call('HMGET', rec, 'id', 'spent_month_id', 'spent_month', 'inflight') or {}
    if f[1] == kid then
      local fields = {}
      if cost > 0 then
        local _, _, month = cal_ids(now_s)
        local spent = f[2] == month and (tonumber(f[3]) or 0) or 0
        fields = {'spent_month_id', month, 'spent_month', ah_int_str(spent + cost)}
      end
      if ifk then fields[#fields + 1] = 'inflight'; fields[#fields + 1] = ah_int_str(math.max((tonumber(f[4]) or 0) - 1, 0)) end
      redis.call('HSET', rec, unpack(fields))
    end
  end
end
if string.find(tw, 'g', 1, true) then lim_tpm_correct('global', 'all', tpm_sec, delta) end
lim_tpm_correct('acct', acct_id, acct_sec, delta)

-- the account's health; a "failed" request's last attempt was already counted
-- by its failover step
if outcome ~= 'failed' and outcome ~= 'released' then
  local a = redis.call('HMGET', acct_key, 'requests', 'errors', 'stream_errors', 'latency_ewma_ms')
  local ewma = tonumber(a[4])
  if ewma == nil then ewma = latency else ewma = ewma * 0.8 + latency * 0.2 end
  local fields = {'requests', ah_int_str((tonumber(a[1]) or 0) + 1), 'last_status', ah_int_str(status),
    'last_used_at', ah_int_str(now_s), 'latency_ewma_ms', tenths_str(ewma)}
  if outcome == 'stream_error' then
    fields[#fields + 1] = 'errors'; fields[#fields + 1] = ah_int_str((tonumber(a[2]) or 0) + 1)
    fields[#fields + 1] = 'stream_errors'; fields[#fields + 1] = ah_int_str((tonumber(a[3]) or 0) + 1)
  end
  redis.call('HSET', acct_key, unpack(fields))
end

-- the log (the stats are folded from it: money_stats_fold)
local entry = {'time', ah_int_str(now_s), 'user_id', uid, 'key_id', kid, 'status', ah_int_str(client_status),
  'cost', ah_int_str(cost), 'unpaid', ah_int_str(unpaid), 'model', model, 'channel_id', channel,
  'prompt_tokens', ah_int_str(pt), 'completion_tokens', ah_int_str(ct)}
for i = 13, #ARGV, 2 do
  entry[#entry + 1] = ARGV[i]
  entry[#entry + 1] = ARGV[i + 1]
end
money_log(entry, log_max)
return {charged, unpaid, balance}
