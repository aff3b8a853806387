-- session_check.lua: is this console session alive? Called on every console
-- and admin API request made with a session cookie, after the node verified
-- the session token's signature; marks the session used.
--
-- KEYS[1]   ah:sess:<sid>
-- ARGV[1]   sid
-- ARGV[2]   idle_s     the session ends after this long without use (integer ≥ 1)
--
-- A live session gets last_seen_at = now and its expiry pushed to
-- min(now + idle_s, expires_at). Nothing is written for a dead one.
--
-- Returns {"ok", role, sub, email, name, principal, phash, created_at}
--   | {"err", "no_session"}   missing (never existed, or expired and gone)
--   | {"err", "revoked"}      ended by a logout, a remote logout or a refresh-token reuse
--   | {"err", "expired"}      idle for idle_s, or past its absolute expiry
ah_expect_counts('session_check', 1, 2)
local sid = ARGV[1]
local idle = ah_int(ARGV[2], 'idle_s')
if sid == '' or idle < 1 then ah_fail('session_check: empty sid or idle_s < 1') end
if KEYS[1] ~= 'ah:sess:' .. sid then ah_fail('session_check: KEYS[1] must be ah:sess:' .. sid) end
local f = redis.call('HMGET', KEYS[1], 'id', 'revoked', 'last_seen_at', 'expires_at', 'role', 'sub', 'email', 'name',
  'principal', 'phash', 'created_at')
if f[1] ~= sid then return {'err', 'no_session'} end
if f[2] == '1' then return {'err', 'revoked'} end
local now = ah_now()
local expires_at = tonumber(f[4]) or 0
if now >= expires_at or now - (tonumber(f[3]) or 0) >= idle then return {'err', 'expired'} end
redis.call('HSET', KEYS[1], 'last_seen_at', ah_int_str(now))
redis.call('EXPIRE', KEYS[1], math.min(idle, expires_at - now))
return {'ok', f[5] or '', f[6] or '', f[7] or '', f[8] or '', f[9] or '', f[10] or '', tonumber(f[11]) or 0}
