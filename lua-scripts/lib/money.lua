-- lib/money.lua: balances, holds, the ledger, the request log and the stats
-- folded from it.
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

-- The stats: day and hour hashes folded from the request log rather than
-- written by every request. ah:stats_cursor holds the id of the last log
-- entry counted; a fold counts the entries after it, at most `max`, and moves
-- the cursor, in one atomic step, so folds from any number of nodes count
-- each entry exactly once. Each entry adds req 1, err (status >= 400), pt,
-- ct and cost to the totals of its day and hour, by model on both (unless
-- unlisted = "1"), and by channel, account and user on the day.
-- Returns the number of entries counted.
local AH_STATS_CURSOR = 'ah:stats_cursor'

local function money_stats_fold(max)
  local cursor = redis.call('GET', AH_STATS_CURSOR) or '0-0'
  local entries = redis.call('XRANGE', AH_LOGS_KEY, '(' .. cursor, '+', 'COUNT', max)
  if #entries == 0 then return 0 end
  local sums, order = {}, {}
  local function add(key, prefix, req, err, pt, ct, cost)
    local h = sums[key]
    if h == nil then
      h = {}
      sums[key] = h
      order[#order + 1] = key
    end
    h[prefix .. 'req'] = (h[prefix .. 'req'] or 0) + req
    if err ~= 0 then h[prefix .. 'err'] = (h[prefix .. 'err'] or 0) + err end
    if pt ~= 0 then h[prefix .. 'pt'] = (h[prefix .. 'pt'] or 0) + pt end
    if ct ~= 0 then h[prefix .. 'ct'] = (h[prefix .. 'ct'] or 0) + ct end
    if cost ~= 0 then h[prefix .. 'cost'] = (h[prefix .. 'cost'] or 0) + cost end
  end
  local hours = {}
  for _, e in ipairs(entries) do
    local kv, f = e[2], {}
    for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
    local hour_no = math.floor((tonumber(f.time) or 0) / 3600)
    local ids = hours[hour_no]
    if ids == nil then
      local day, hour = cal_ids(hour_no * 3600)
      ids = {'ah:stats:d:' .. day, 'ah:stats:h:' .. hour}
      hours[hour_no] = ids
    end
    local status = tonumber(f.status) or 0
    local err = status >= 400 and 1 or 0
    local pt, ct, cost = tonumber(f.prompt_tokens) or 0, tonumber(f.completion_tokens) or 0, tonumber(f.cost) or 0
    local d, h = ids[1], ids[2]
    add(d, '', 1, err, pt, ct, cost)
    add(h, '', 1, err, pt, ct, cost)
    if f.model and f.model ~= '' and f.unlisted ~= '1' then
      add(d, 'm:' .. f.model .. ':', 1, err, pt, ct, cost)
      add(h, 'm:' .. f.model .. ':', 1, err, pt, ct, cost)
    end
    if f.channel_id and f.channel_id ~= '' then add(d, 'c:' .. f.channel_id .. ':', 1, err, pt, ct, cost) end
    if f.account_id and f.account_id ~= '' then add(d, 'a:' .. f.account_id .. ':', 1, err, pt, ct, cost) end
    if f.user_id and f.user_id ~= '' then add(d, 'u:' .. f.user_id .. ':', 1, err, pt, ct, cost) end
  end
  for _, key in ipairs(order) do
    for field, v in pairs(sums[key]) do
      if v ~= 0 then redis.call('HINCRBY', key, field, v) end
    end
    -- keep 400 days of daily and 8 days of hourly stats
    if redis.call('TTL', key) < 0 then
      redis.call('EXPIRE', key, string.sub(key, 10, 10) == 'd' and 400 * 86400 or 8 * 86400)
    end
  end
  redis.call('SET', AH_STATS_CURSOR, entries[#entries][1])
  return #entries
end
