-- session_create.lua: starts a console session after a sign-in.
--
-- KEYS[1]   ah:sess:<sid>          the session record (hash)
-- KEYS[2]   ah:sess_idx:<phash>    the sessions of one person (zset: sid → created_at)
-- ARGV[1]   sid                    the session id (non-empty)
-- ARGV[2]   phash                  the person's index id: KEYS[2] is named after it, and it is stored
-- ARGV[3]   rt_hash                SHA-256 (hex) of the first refresh token
-- ARGV[4]   idle_s                 the session ends after this long without use (integer ≥ 1)
-- ARGV[5]   max_s                  and this long after sign-in whatever happens (integer ≥ 1)
-- ARGV[6..] field, value pairs     must include role (admin, operator or viewer); usually principal,
--                                  sub, email, name, ip, user_agent, idp_rt (the provider's refresh
--                                  token, sealed by the node, or ""); none of the reserved fields
--
-- The record expires (EXPIRE) after min(idle_s, max_s); session_check and
-- session_refresh extend it on use, never past created_at + max_s. The index
-- is pruned of sessions that no longer exist and kept max_s.
--
-- Returns {"ok", created_at, expires_at} (unix s) | {"err", "exists"}.
local reserved = {id = true, phash = true, created_at = true, last_seen_at = true, expires_at = true,
  rt_hash = true, rt_prev = true, rotated_at = true, refreshing_until = true, revoked = true, revoked_at = true,
  revoked_reason = true}
if #KEYS ~= 2 then ah_fail('session_create: expected 2 KEYS, got ' .. #KEYS) end
if #ARGV < 5 or #ARGV % 2 ~= 1 then ah_fail('session_create: expected 5 ARGV and field pairs') end
local sid, phash, rt_hash = ARGV[1], ARGV[2], ARGV[3]
local idle = ah_int(ARGV[4], 'idle_s')
local max = ah_int(ARGV[5], 'max_s')
if sid == '' or phash == '' or rt_hash == '' then ah_fail('session_create: empty sid, phash or rt_hash') end
if idle < 1 or max < 1 then ah_fail('session_create: idle_s and max_s must be at least 1') end
if KEYS[1] ~= 'ah:sess:' .. sid then ah_fail('session_create: KEYS[1] must be ah:sess:' .. sid) end
if KEYS[2] ~= 'ah:sess_idx:' .. phash then ah_fail('session_create: KEYS[2] must be ah:sess_idx:' .. phash) end
local pairs_ = {}
local role
for i = 6, #ARGV, 2 do
  local f = ARGV[i]
  if reserved[f] then ah_fail('session_create: field ' .. f .. ' is reserved') end
  if f == 'role' then role = ARGV[i + 1] end
  pairs_[#pairs_ + 1] = f
  pairs_[#pairs_ + 1] = ARGV[i + 1]
end
if role ~= 'admin' and role ~= 'operator' and role ~= 'viewer' then
  ah_fail('session_create: role must be admin, operator or viewer')
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'err', 'exists'} end
local now = ah_now()
local expires_at = now + max
redis.call('HSET', KEYS[1], 'id', sid, 'phash', phash, 'created_at', ah_int_str(now), 'last_seen_at', ah_int_str(now),
  'expires_at', ah_int_str(expires_at), 'rt_hash', rt_hash, 'rotated_at', ah_int_str(now), unpack(pairs_))
redis.call('EXPIRE', KEYS[1], math.min(idle, max))
for _, other in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', 'ah:sess:' .. other) == 0 then redis.call('ZREM', KEYS[2], other) end
end
redis.call('ZADD', KEYS[2], now, sid)
redis.call('EXPIRE', KEYS[2], max)
return {'ok', now, expires_at}
