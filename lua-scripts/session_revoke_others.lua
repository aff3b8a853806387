-- session_revoke_others.lua: ends every session of a person but one (the
-- caller's own): "log out my other devices".
--
-- KEYS[1]   ah:sess_idx:<phash>
-- ARGV[1]   phash    KEYS[1] is named after it
-- ARGV[2]   keep     the session id left alone ("" = none)
-- ARGV[3]   reason   recorded as revoked_reason
--
-- Exception to "every key through KEYS": the records ah:sess:<sid> of the
-- indexed sessions. A listed session whose record is gone is just unlisted.
--
-- Returns {"ok", n}: the number of sessions revoked.
ah_expect_counts('session_revoke_others', 1, 3)
local phash, keep, reason = ARGV[1], ARGV[2], ARGV[3]
if phash == '' then ah_fail('session_revoke_others: empty phash') end
if KEYS[1] ~= 'ah:sess_idx:' .. phash then ah_fail('session_revoke_others: KEYS[1] must be ah:sess_idx:' .. phash) end
local now = ah_now()
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= keep then
    local key = 'ah:sess:' .. sid
    local f = redis.call('HMGET', key, 'id', 'phash', 'revoked')
    if f[1] == sid and f[2] == phash and f[3] ~= '1' then
      redis.call('HSET', key, 'revoked', '1', 'revoked_at', ah_int_str(now), 'revoked_reason', reason)
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return {'ok', n}
