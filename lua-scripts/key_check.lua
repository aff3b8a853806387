-- key_check.lua: is a user API key usable, and which models may it use?
-- Used by GET /v1/models, which needs the key's restriction but no account.
-- Read-only.
--
-- KEYS[1]   ah:key:<hmac>   the user API key, by keyed hash of the key
-- ARGV      none
--
-- Exception to "every key through KEYS", as in admit.lua: the user hash
-- ah:user:<user_id> is derived from the key's user_id field.
--
-- Returns:
--   {"err", "invalid_api_key"}   key missing, not enabled, or expired
--   {"err", "user_disabled"}     user missing or not enabled
--   {"ok", key_id, user_id, models}   models: the key's JSON text ("" = all)
ah_expect_counts('key_check', 1, 0)
local now_s = ah_now()
local f = redis.call('HMGET', KEYS[1], 'id', 'user_id', 'enabled', 'models', 'expires_at')
if f[3] ~= '1' then return {'err', 'invalid_api_key'} end
local expires_at = tonumber(f[5]) or 0
if expires_at > 0 and expires_at <= now_s then return {'err', 'invalid_api_key'} end
local user_id = f[2] or ''
if user_id == '' then return {'err', 'user_disabled'} end
if redis.call('HGET', 'ah:user:' .. user_id, 'enabled') ~= '1' then
  return {'err', 'user_disabled'}
end
return {'ok', f[1] or '', user_id, f[4] or ''}
