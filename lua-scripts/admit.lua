-- admit.lua: admission of one client request. Checks the API key, its user
-- and its model restriction, then chooses a provider account among the
-- candidates the node found in its configuration (see lib/pick.lua).
--
-- KEYS[1]         ah:key:<hmac>   the user API key, by keyed hash of the key
-- KEYS[2..n+1]    ah:acct:<id>    runtime state of each candidate account,
--                                 in the order of the triples in ARGV
-- ARGV[1]         model           the model name as the client asked for it
-- ARGV[2]         r               the draw, a decimal string in [0, 1)
-- ARGV[3]         n               number of candidates
-- ARGV[4..3+3n]   id, priority, weight   one triple per candidate
--
-- Exception to "every key through KEYS": the user hash ah:user:<user_id> is
-- read from the key's user_id field, so its name is derived here. (Under
-- Redis Cluster it must share the key's hash tag.)
--
-- Returns, checks in this order, the first failing one wins:
--   {"err", "invalid_api_key"}            key missing, not enabled, or expired
--   {"err", "user_disabled"}              user missing or not enabled
--   {"err", "model_not_allowed"}          key.models excludes ARGV[1]
--   {"err", "model_not_found"}            n == 0
--   {"err", "no_available_account", ms}   every candidate disabled or cooling;
--                                         ms = soonest cooldown end, -1 if none
--   {"ok", account_id, key_id, user_id}   admitted; key last_used_at = now (s)
-- A refused request changes nothing.
--
-- Layout: every check is a function of the context that returns nil (go
-- on) or a refusal; none of them writes. Writes happen only in commit(),
-- after every check passed, because a script that errors half-way keeps the
-- writes it already made.

local key_key = KEYS[1]
local model = ARGV[1]
local r = pick_parse_r(ARGV[2])
local n = pick_count(3)
ah_expect_counts('admit', 1 + n, 3 + 3 * n)
local candidates = pick_parse(1, 3)

local now_s, now_ms = ah_now()

local ctx = {key = nil, user = nil, account_id = nil}

local function refuse(code, extra)
  if extra ~= nil then return {'err', code, extra} end
  return {'err', code}
end

-- The key exists, is enabled and has not expired.
local function check_key()
  local f = redis.call('HMGET', key_key,
    'id', 'user_id', 'enabled', 'models', 'expires_at')
  if f[3] ~= '1' then return refuse('invalid_api_key') end
  local expires_at = tonumber(f[5]) or 0
  if expires_at > 0 and expires_at <= now_s then
    return refuse('invalid_api_key')
  end
  ctx.key = {id = f[1] or '', user_id = f[2] or '', models = f[4]}
  return nil
end

-- The key's user exists and is enabled.
local function check_user()
  local user_id = ctx.key.user_id
  if user_id == '' then return refuse('user_disabled') end
  local user_key = 'ah:user:' .. user_id
  local f = redis.call('HMGET', user_key, 'enabled')
  if f[1] ~= '1' then return refuse('user_disabled') end
  ctx.user = {id = user_id, key = user_key}
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
  -- "[]" (and "{}", which decodes the same) restricts nothing; a non-empty
  -- object has no array items, so it matches no model below
  if next(list) == nil then return nil end
  for _, name in ipairs(list) do
    if name == model then return nil end
  end
  return refuse('model_not_allowed')
end

-- Some candidate is available: choose it.
local function choose_account()
  if n == 0 then return refuse('model_not_found') end
  local id, retry_ms = pick_choose(candidates, r, now_ms)
  if id == nil then return refuse('no_available_account', retry_ms) end
  ctx.account_id = id
  return nil
end

local function commit()
  redis.call('HSET', key_key, 'last_used_at', ah_int_str(now_s))
end

local checks = {check_key, check_user, check_model, choose_account}
for _, check in ipairs(checks) do
  local refusal = check()
  if refusal then return refusal end
end
commit()
return {'ok', ctx.account_id, ctx.key.id, ctx.user.id}
