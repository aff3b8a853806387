-- lib/money.lua: balances, holds, the ledger, stats and the request log.
-- Local functions only (see lib/common.lua).
--
-- A user hash carries balance, held, spent and credited (micro-units), with
-- credited = balance + held + spent at every moment: a hold moves money from
-- balance to held, settlement moves the charge to spent and the rest back,
-- and an expired hold goes back to balance. Every balance change appends one
-- entry to the user's ledger stream ah:ledger:<uid>.
--
-- A hold is ah:hold:<lease> (user_id, key_id, amount, tpm_est, tpm_sec,
-- acct_id, acct_sec, request_id) plus a member of ah:holds scored by its
-- expiry in ms; the sweep refunds expired ones and keeps their record with
-- amount 0 (and swept = "1"), so a late settle still finds the user.

local AH_HOLDS_KEY = 'ah:holds'
local AH_LOGS_KEY = 'ah:logs'
local AH_LEDGER_MAXLEN = 100000

local function money_ledger(uid, kind, delta, balance, fields)
  local args = {'XADD', 'ah:ledger:' .. uid, 'MAXLEN', '~', AH_LEDGER_MAXLEN, '*',
    'type', kind, 'delta', ah_int_str(delta), 'balance', ah_int_str(balance)}
  if fields then
    for i = 1, #fields do args[#args + 1] = fields[i] end
  end
  redis.call(unpack(args))
end

-- Appends a request log entry: `pairs` is a flat field/value list.
local function money_log(pairs, maxlen)
  local args = {'XADD', AH_LOGS_KEY, 'MAXLEN', '~', maxlen, '*'}
  for i = 1, #pairs do args[#args + 1] = pairs[i] end
  redis.call(unpack(args))
end

-- Adds one request to the day and hour stats: totals, and by model, channel,
-- account and user on the day (by model on the hour).
-- dims: {model=, channel=, account=, user=}; v: {req=, err=, pt=, ct=, cost=}
local function money_stats(now_s, dims, v)
  local day, hour = cal_ids(now_s)
  local dkey, hkey = 'ah:stats:d:' .. day, 'ah:stats:h:' .. hour
  local function add(key, prefix)
    for _, f in ipairs({'req', 'err', 'pt', 'ct', 'cost'}) do
      if v[f] ~= 0 then redis.call('HINCRBY', key, prefix .. f, v[f]) end
    end
  end
  add(dkey, '')
  add(hkey, '')
  if dims.model and dims.model ~= '' then
    add(dkey, 'm:' .. dims.model .. ':')
    add(hkey, 'm:' .. dims.model .. ':')
  end
  if dims.channel and dims.channel ~= '' then add(dkey, 'c:' .. dims.channel .. ':') end
  if dims.account and dims.account ~= '' then add(dkey, 'a:' .. dims.account .. ':') end
  if dims.user and dims.user ~= '' then add(dkey, 'u:' .. dims.user .. ':') end
  -- keep 400 days of daily and 8 days of hourly stats
  if redis.call('TTL', dkey) < 0 then redis.call('EXPIRE', dkey, 400 * 86400) end
  if redis.call('TTL', hkey) < 0 then redis.call('EXPIRE', hkey, 8 * 86400) end
end
