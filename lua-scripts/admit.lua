-- admit.lua: admission of one client request, in one atomic step. Checks the
-- API key, its user and its model restriction; the rate limits of the key,
-- the user and the whole gateway (RPM, TPM, requests in flight); the key's
-- monthly spend limit and the user's balance against the hold; then chooses
-- a provider account among the candidates the node found in its
-- configuration (see lib/pick.lua), skipping accounts at their own limits.
-- On success it places the hold, takes the in-flight slots and counts the
-- request in every rate window; a refusal writes nothing but its log entry
-- (and may drop buckets that left a window).
--
-- KEYS[1]         ah:key:<hmac>   the user API key, by keyed hash of the key
-- KEYS[2..n+1]    ah:acct:<id>    runtime state of each candidate account,
--                                 in the order of the tuples in ARGV
-- ARGV[1]         model           the model name as the client asked for it
-- ARGV[2]         r               the draw, a decimal string in [0, 1)
-- ARGV[3]         lease           unique id of this request's hold and slots
-- ARGV[4]         hold            micro-units to hold (integer >= 0)
-- ARGV[5]         tokens          estimated tokens for TPM (integer >= 0)
-- ARGV[6]         ttl_ms          lease time to live (integer >= 1000)
-- ARGV[7]         global_rpm      0 = unlimited
-- ARGV[8]         global_tpm      0 = unlimited
-- ARGV[9]         request_id      for the log entry of a refusal
-- ARGV[10]        stream          "1" or "0", for the log entry
-- ARGV[11]        client_ip       for the log entry
-- ARGV[12]        log_max         approximate cap of the request log
-- ARGV[13]        n               number of candidates
-- ARGV[14..13+5n] id, priority, weight, rpm, tpm   one tuple per candidate
--
-- Exception to "every key through KEYS": the user hash ah:user:<user_id>,
-- the key's and user's limiter keys, the hold and the log are derived here
-- from the key's fields (under Redis Cluster they would share a hash tag).
--
-- Returns, checks in this order, the first failing one wins:
--   {"err", "invalid_api_key"}              key missing, disabled or expired
--   {"err", "user_disabled"}                user missing or not enabled
--   {"err", "model_not_allowed"}            key.models excludes ARGV[1]
--   {"err", "model_not_found"}              n == 0
--   {"err", "rate_limit_exceeded", ms}      a key, user or global limit; ms
--                                           until every failing one has room
--   {"err", "insufficient_quota", 0, why}   why: "balance" or "spend_limit"
--   {"err", "rate_limit_exceeded", ms}      every available account is at
--                                           its own limit (ms: the soonest)
--   {"err", "no_available_account", ms}     every candidate disabled or
--                                           cooling; ms = soonest cooldown
--                                           end, -1 if none is cooling
--   {"ok", account_id, key_id, user_id, req_limit, req_remaining,
--    req_reset_ms, tok_limit, tok_remaining, tok_reset_ms}
--     the tightest key/user RPM and TPM windows after this admission
--     (limit 0 when neither has one).

local key_key = KEYS[1]
local model = ARGV[1]
local r = pick_parse_r(ARGV[2])
local lease = ARGV[3]
local hold = ah_int(ARGV[4], 'hold')
local tokens = ah_int(ARGV[5], 'tokens')
local ttl_ms = ah_int(ARGV[6], 'ttl_ms')
local global_rpm = ah_int(ARGV[7], 'global_rpm')
local global_tpm = ah_int(ARGV[8], 'global_tpm')
local request_id, stream, client_ip = ARGV[9], ARGV[10], ARGV[11]
local log_max = ah_int(ARGV[12], 'log_max')
local n = pick_count(13)
ah_expect_counts('admit', 1 + n, 13 + 5 * n)
if lease == nil or lease == '' then ah_fail('admit: empty lease') end
if hold < 0 or tokens < 0 then ah_fail('admit: hold and tokens must be >= 0') end
if ttl_ms < 1000 then ah_fail('admit: ttl_ms must be >= 1000') end
if log_max < 0 then ah_fail('admit: log_max must be >= 0') end
local candidates = pick_parse(1, 13, 5)

local now_s, now_ms = ah_now()
local ctx = {key = nil, user = nil, account_id = nil, rl = nil}

local function refuse(code, extra, why)
  if why ~= nil then return {'err', code, extra, why} end
  if extra ~= nil then return {'err', code, extra} end
  return {'err', code}
end

-- The key exists, is enabled and has not expired.
local function check_key()
  local f = redis.call('HMGET', key_key, 'id', 'user_id', 'enabled', 'models', 'expires_at',
    'rpm', 'tpm', 'max_in_flight', 'spend_limit_monthly', 'spent_month', 'spent_month_id', 'inflight')
  if f[3] ~= '1' then return refuse('invalid_api_key') end
  local expires_at = tonumber(f[5]) or 0
  if expires_at > 0 and expires_at <= now_s then
    return refuse('invalid_api_key')
  end
  ctx.key = {id = f[1] or '', user_id = f[2] or '', models = f[4],
    rpm = tonumber(f[6]) or 0, tpm = tonumber(f[7]) or 0, inflight = tonumber(f[8]) or 0,
    spend_limit = tonumber(f[9]) or 0, spent_month = tonumber(f[10]) or 0, month_id = f[11] or '',
    in_flight = tonumber(f[12]) or 0}
  return nil
end

-- The key's user exists and is enabled.
local function check_user()
  local user_id = ctx.key.user_id
  if user_id == '' then return refuse('user_disabled') end
  local user_key = 'ah:user:' .. user_id
  local f = redis.call('HMGET', user_key, 'enabled', 'balance', 'rpm', 'tpm', 'max_in_flight', 'held', 'inflight')
  if f[1] ~= '1' then return refuse('user_disabled') end
  ctx.user = {id = user_id, key = user_key, balance = tonumber(f[2]) or 0,
    rpm = tonumber(f[3]) or 0, tpm = tonumber(f[4]) or 0, inflight = tonumber(f[5]) or 0,
    held = tonumber(f[6]) or 0, in_flight = tonumber(f[7]) or 0}
  return nil
end

-- The key may use the model: models absent, "", "null" or an empty JSON
-- array means every model; anything that is not a JSON array of names
-- (corrupt data) refuses, so a broken restriction never widens access.
local function check_model()
  local text = ctx.key.models
  if not text or text == '' then return nil end
  local ok, list = pcall(cjson.decode, text)
  if ok and list == cjson.null then return nil end
  if not ok or type(list) ~= 'table' then
    return refuse('model_not_allowed')
  end
  if next(list) == nil then return nil end
  for _, name in ipairs(list) do
    if name == model then return nil end
  end
  return refuse('model_not_allowed')
end

local function check_candidates()
  if n == 0 then return refuse('model_not_found') end
  return nil
end

-- RPM, TPM and in-flight of the key, the user and the gateway.
local function check_limits()
  local k, u = ctx.key, ctx.user
  local wait, refused = 0, false
  local rl = {req = {0, 0, 0}, tok = {0, 0, 0}}
  local function tighter(slot, limit, remaining, reset)
    if limit > 0 and (rl[slot][1] == 0 or remaining < rl[slot][2]) then
      rl[slot] = {limit, remaining, reset}
    end
  end
  ctx.lims, ctx.tw = {}, ''
  for _, l in ipairs({{'key', k.id, k.rpm, k.tpm, 'k'}, {'user', u.id, u.rpm, u.tpm, 'u'}, {'global', 'all', global_rpm, global_tpm, 'g'}}) do
    -- a scope without limits is not counted (see lib/limits.lua)
    if l[3] > 0 or l[4] > 0 then
      local L = lim_open(l[1], l[2], now_s)
      ctx.lims[#ctx.lims + 1] = L
      if l[4] > 0 then ctx.tw = ctx.tw .. l[5] end
      local ok, rem, ms = lim_rpm_check(L, l[3], now_ms)
      if not ok then refused, wait = true, math.max(wait, ms) end
      if l[1] ~= 'global' then tighter('req', l[3], rem, ms) end
      ok, rem, ms = lim_tpm_check(L, l[4], tokens, now_ms)
      if not ok then refused, wait = true, math.max(wait, ms) end
      if l[1] ~= 'global' then tighter('tok', l[4], rem, ms) end
    end
  end
  if (k.inflight > 0 and k.in_flight >= k.inflight) or (u.inflight > 0 and u.in_flight >= u.inflight) then
    -- a slot frees when a running request ends: no better promise than a second
    refused, wait = true, math.max(wait, 1000)
  end
  if refused then return refuse('rate_limit_exceeded', wait) end
  ctx.rl = rl
  return nil
end

-- The key's monthly spend limit and the user's balance cover the hold.
local function check_quota()
  local k = ctx.key
  local _, _, month = cal_ids(now_s)
  local spent = k.month_id == month and k.spent_month or 0
  if k.spend_limit > 0 and spent + hold > k.spend_limit then
    return refuse('insufficient_quota', 0, 'spend_limit')
  end
  if hold > 0 and ctx.user.balance < hold then
    return refuse('insufficient_quota', 0, 'balance')
  end
  return nil
end

-- Some candidate is available: choose it.
local function choose_account()
  local id, lim, reason = pick_choose(candidates, r, now_ms, tokens)
  if id == nil then return refuse(reason, lim) end
  ctx.account_id = id
  ctx.acct_lim = lim
  return nil
end

local function commit()
  local k, u = ctx.key, ctx.user
  local expiry = now_ms + ttl_ms
  -- in flight: counted only where limited; the hold says where (ifk, ifu)
  local ifk = k.inflight > 0 and '1' or '0'
  local ifu = u.inflight > 0 and '1' or '0'
  if ifk == '1' then
    redis.call('HSET', key_key, 'last_used_at', ah_int_str(now_s), 'inflight', ah_int_str(k.in_flight + 1))
  else
    redis.call('HSET', key_key, 'last_used_at', ah_int_str(now_s))
  end
  -- the hold: from balance to held
  if hold > 0 or ifu == '1' then
    local fields = {}
    if hold > 0 then
      fields = {'balance', ah_int_str(u.balance - hold), 'held', ah_int_str(u.held + hold)}
    end
    if ifu == '1' then
      fields[#fields + 1] = 'inflight'
      fields[#fields + 1] = ah_int_str(u.in_flight + 1)
    end
    redis.call('HSET', u.key, unpack(fields))
  end
  if hold > 0 then money_ledger(u.id, 'hold', -hold, u.balance - hold, {'request_id', request_id}) end
  redis.call('HSET', 'ah:hold:' .. lease, 'user_id', u.id, 'key_id', k.id, 'amount', ah_int_str(hold),
    'tpm_est', ah_int_str(tokens), 'tpm_sec', ah_int_str(now_s), 'acct_id', ctx.account_id,
    'request_id', request_id, 'ifk', ifk, 'ifu', ifu, 'tw', ctx.tw)
  if ctx.acct_lim and ctx.acct_lim.tpm_limited then
    redis.call('HSET', 'ah:hold:' .. lease, 'acct_sec', ah_int_str(now_s))
  end
  redis.call('PEXPIRE', 'ah:hold:' .. lease, ttl_ms + 86400000)
  redis.call('ZADD', AH_HOLDS_KEY, expiry, lease)
  -- the windows of key, user, gateway and account (those with limits)
  for _, L in ipairs(ctx.lims) do lim_add(L, tokens) end
  if ctx.acct_lim then lim_add(ctx.acct_lim, tokens) end
end

local status_of = {user_disabled = 403, model_not_allowed = 403, model_not_found = 404,
  rate_limit_exceeded = 429, insufficient_quota = 429, no_available_account = 503}

-- A refusal of a known key goes to the request log (and from there to the
-- stats: money_stats_fold). unlisted = "1": no configured model has that name,
-- so the stats leave out its model dimension (a client's made-up names must
-- not grow the stats hashes without bound).
local function log_refusal(refusal)
  local status = status_of[refusal[2]]
  if status == nil or ctx.key == nil then return end
  local uid = ctx.user and ctx.user.id or ctx.key.user_id
  money_log({'time', ah_int_str(now_s), 'request_id', request_id, 'user_id', uid, 'key_id', ctx.key.id,
    'model', model, 'status', ah_int_str(status), 'stream', stream, 'attempts', '0', 'cost', '0', 'unpaid', '0',
    'error', refusal[2], 'client_ip', client_ip, 'unlisted', n > 0 and '0' or '1'}, log_max)
end

local checks = {check_key, check_user, check_model, check_candidates, check_limits, check_quota, choose_account}
for _, check in ipairs(checks) do
  local refusal = check()
  if refusal then
    log_refusal(refusal)
    return refusal
  end
end
commit()
local rl = ctx.rl
return {'ok', ctx.account_id, ctx.key.id, ctx.user.id, rl.req[1], rl.req[2], rl.req[3], rl.tok[1], rl.tok[2], rl.tok[3]}
