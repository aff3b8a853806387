-- session_refresh.lua: checks, then rotates, a session's one-time refresh
-- token. A refresh is two calls: "check" (is the presented token the
-- current one? if so the session is marked as refreshing for
-- AH_REFRESH_LOCK_MS, so that two tabs do not both ask the identity provider
-- with the same provider token), then, once the node has asked the provider
-- for a fresh role, "rotate" (checks again, replaces the token and clears the
-- mark). Presenting a token that was already rotated away revokes the whole
-- session (its family of tokens): someone else has it.
--
-- KEYS[1]   ah:sess:<sid>
-- KEYS[2]   ah:sess:<sid>:rt       the hashes of the session's used refresh tokens (set)
-- ARGV[1]   mode                   check | rotate
-- ARGV[2]   sid
-- ARGV[3]   hash                   SHA-256 (hex) of the presented refresh token
-- ARGV[4]   idle_s                 as session_check (integer ≥ 1)
-- ARGV[5]   grace_s                a token replaced less than grace_s ago is "stale", not reused (integer ≥ 0):
--                                  two tabs refreshing at once must not end the session
-- rotate only:
-- ARGV[6]   new_hash               SHA-256 (hex) of the next refresh token
-- ARGV[7]   role                   the role from the provider ("" = keep; else admin, operator or viewer)
-- ARGV[8]   idp_rt                 the provider's new refresh token, sealed ("" = keep)
--
-- Exception to "every key through KEYS": a reuse removes the session from
-- ah:sess_idx:<phash>, phash being read from the record.
--
-- Returns {"ok", role, sub, email, name, principal, phash, idp_rt, created_at, expires_at}
--   (rotate: after the rotation, with the new role)
--   | {"err", "no_session"} | {"err", "revoked"} | {"err", "expired"}
--   | {"err", "stale"}       the previous token, within grace_s of its rotation (nothing changes)
--   | {"err", "busy"}        check: another refresh of this session is under way (nothing changes)
--   | {"err", "reuse"}       an older token: the session is revoked now
--   | {"err", "invalid"}     a token this session never issued (nothing changes)
-- how long a check holds the session for its rotate, ms
local AH_REFRESH_LOCK_MS = 15000
if #KEYS ~= 2 then ah_fail('session_refresh: expected 2 KEYS, got ' .. #KEYS) end
local mode = ARGV[1]
if mode == 'check' then
  if #ARGV ~= 5 then ah_fail('session_refresh: check expects 5 ARGV, got ' .. #ARGV) end
elseif mode == 'rotate' then
  if #ARGV ~= 8 then ah_fail('session_refresh: rotate expects 8 ARGV, got ' .. #ARGV) end
else
  ah_fail('session_refresh: unknown mode ' .. tostring(mode))
end
local sid, hash = ARGV[2], ARGV[3]
local idle = ah_int(ARGV[4], 'idle_s')
local grace = ah_int(ARGV[5], 'grace_s')
if sid == '' or hash == '' or idle < 1 or grace < 0 then ah_fail('session_refresh: bad sid, hash, idle_s or grace_s') end
if KEYS[1] ~= 'ah:sess:' .. sid or KEYS[2] ~= 'ah:sess:' .. sid .. ':rt' then
  ah_fail('session_refresh: KEYS must be ah:sess:' .. sid .. ' and ah:sess:' .. sid .. ':rt')
end
local role_in = ARGV[7]
if mode == 'rotate' then
  if ARGV[6] == '' then ah_fail('session_refresh: empty new_hash') end
  if role_in ~= '' and role_in ~= 'admin' and role_in ~= 'operator' and role_in ~= 'viewer' then
    ah_fail('session_refresh: role must be admin, operator, viewer or ""')
  end
end
local f = redis.call('HMGET', KEYS[1], 'id', 'revoked', 'last_seen_at', 'expires_at', 'rt_hash', 'rt_prev', 'rotated_at', 'phash',
  'refreshing_until')
if f[1] ~= sid then return {'err', 'no_session'} end
if f[2] == '1' then return {'err', 'revoked'} end
local now, now_ms = ah_now()
local expires_at = tonumber(f[4]) or 0
if now >= expires_at or now - (tonumber(f[3]) or 0) >= idle then return {'err', 'expired'} end
if hash ~= f[5] then
  if hash == f[6] and now - (tonumber(f[7]) or 0) < grace then return {'err', 'stale'} end
  if redis.call('SISMEMBER', KEYS[2], hash) == 1 then
    redis.call('HSET', KEYS[1], 'revoked', '1', 'revoked_at', ah_int_str(now), 'revoked_reason', 'refresh_reuse')
    if f[8] then redis.call('ZREM', 'ah:sess_idx:' .. f[8], sid) end
    return {'err', 'reuse'}
  end
  return {'err', 'invalid'}
end
if mode == 'check' then
  if now_ms < (tonumber(f[9]) or 0) then return {'err', 'busy'} end
  redis.call('HSET', KEYS[1], 'refreshing_until', ah_int_str(now_ms + AH_REFRESH_LOCK_MS))
else
  redis.call('SADD', KEYS[2], hash)
  redis.call('HDEL', KEYS[1], 'refreshing_until')
  redis.call('HSET', KEYS[1], 'rt_hash', ARGV[6], 'rt_prev', hash, 'rotated_at', ah_int_str(now), 'last_seen_at', ah_int_str(now))
  if role_in ~= '' then redis.call('HSET', KEYS[1], 'role', role_in) end
  if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'idp_rt', ARGV[8]) end
  local ttl = math.min(idle, expires_at - now)
  redis.call('EXPIRE', KEYS[1], ttl)
  -- the used tokens are kept as long as the session may live, so a late reuse is still caught
  redis.call('EXPIRE', KEYS[2], expires_at - now)
end
local r = redis.call('HMGET', KEYS[1], 'role', 'sub', 'email', 'name', 'principal', 'phash', 'idp_rt', 'created_at')
return {'ok', r[1] or '', r[2] or '', r[3] or '', r[4] or '', r[5] or '', r[6] or '', r[7] or '', tonumber(r[8]) or 0, expires_at}
