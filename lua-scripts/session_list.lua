-- session_list.lua: a person's live console sessions, newest first
-- (read-only but for pruning the index of dead sessions).
--
-- KEYS[1]   ah:sess_idx:<phash>
-- ARGV[1]   phash    KEYS[1] is named after it
-- ARGV[2]   idle_s   as session_check (integer ≥ 1): an idle session is not listed
--
-- Exception to "every key through KEYS": the records ah:sess:<sid> of the
-- indexed sessions. Sessions that are gone, revoked, idle or past their
-- expiry are removed from the index and not listed. At most 200 are listed.
--
-- Returns {{id, created_at, last_seen_at, user_agent, ip, role, expires_at}, ...}.
ah_expect_counts('session_list', 1, 2)
local phash = ARGV[1]
local idle = ah_int(ARGV[2], 'idle_s')
if phash == '' or idle < 1 then ah_fail('session_list: empty phash or idle_s < 1') end
if KEYS[1] ~= 'ah:sess_idx:' .. phash then ah_fail('session_list: KEYS[1] must be ah:sess_idx:' .. phash) end
local now = ah_now()
local out = {}
for _, sid in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', 'ah:sess:' .. sid, 'id', 'phash', 'revoked', 'created_at', 'last_seen_at', 'user_agent', 'ip',
    'role', 'expires_at')
  local last, exp = tonumber(f[5]) or 0, tonumber(f[9]) or 0
  if f[1] ~= sid or f[2] ~= phash or f[3] == '1' or now >= exp or now - last >= idle then
    redis.call('ZREM', KEYS[1], sid)
  elseif #out < 200 then
    out[#out + 1] = {sid, tonumber(f[4]) or 0, last, f[6] or '', f[7] or '', f[8] or '', exp}
  end
end
return out
