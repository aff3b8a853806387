-- session_revoke.lua: ends one console session (logout, or a remote logout
-- from the sessions list). Every node refuses it from its next request on,
-- since every request runs session_check.
--
-- KEYS[1]   ah:sess:<sid>
-- ARGV[1]   sid
-- ARGV[2]   owner    the phash the session must belong to ("" = any: a logout by its own cookie, or the admin key)
-- ARGV[3]   reason   recorded as revoked_reason (e.g. logout, remote_logout)
--
-- The record stays (revoked = "1") until it expires, so a late refresh with
-- its token is answered "revoked". Exception to "every key through KEYS":
-- the session is removed from ah:sess_idx:<phash>, phash read from the record.
--
-- Returns {"ok", 1} (revoked now) | {"ok", 0} (it already was) | {"err", "not_found"}
-- (missing, or another person's).
ah_expect_counts('session_revoke', 1, 3)
local sid, owner, reason = ARGV[1], ARGV[2], ARGV[3]
if sid == '' then ah_fail('session_revoke: empty sid') end
if KEYS[1] ~= 'ah:sess:' .. sid then ah_fail('session_revoke: KEYS[1] must be ah:sess:' .. sid) end
local f = redis.call('HMGET', KEYS[1], 'id', 'phash', 'revoked')
if f[1] ~= sid or (owner ~= '' and f[2] ~= owner) then return {'err', 'not_found'} end
if f[3] == '1' then return {'ok', 0} end
redis.call('HSET', KEYS[1], 'revoked', '1', 'revoked_at', ah_int_str(ah_now()), 'revoked_reason', reason)
if f[2] then redis.call('ZREM', 'ah:sess_idx:' .. f[2], sid) end
return {'ok', 1}
