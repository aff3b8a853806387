-- user_delete.lua: delete a user and revoke all of its API keys.
--
-- KEYS[1]   ah:user:<uid>
-- KEYS[2]   ah:user_names       HASH name -> id
-- KEYS[3]   ah:users            ZSET of user ids
-- KEYS[4]   ah:user:<uid>:keys  ZSET of the user's key ids
-- ARGV[1]   uid
-- Derived inside (documented exception): ah:keyid:<kid> and ah:key:<hmac> of
-- each of the user's keys.
--
-- Malformed calls (error reply, nothing written): not 4 KEYS and 1 ARGV, an
-- empty uid, KEYS[1] or KEYS[4] not named after ARGV[1].
--
-- Returns {"err","not_found"} | {"ok", keys_revoked}
--   keys_revoked: the number of ids in KEYS[4]
ah_expect_counts('user_delete', 4, 1)
if ARGV[1] == '' then ah_fail('user_delete: empty user id') end
if KEYS[1] ~= 'ah:user:' .. ARGV[1] or KEYS[4] ~= 'ah:user:' .. ARGV[1] .. ':keys' then
  ah_fail('user_delete: KEYS[1] and KEYS[4] must be ah:user:' .. ARGV[1] .. ' and ah:user:' .. ARGV[1] .. ':keys')
end
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return {'err', 'not_found'} end
local name = redis.call('HGET', KEYS[1], 'name')
if name and redis.call('HGET', KEYS[2], name) == ARGV[1] then redis.call('HDEL', KEYS[2], name) end
local kids = redis.call('ZRANGE', KEYS[4], 0, -1)
for _, kid in ipairs(kids) do
  local hmac = redis.call('GET', 'ah:keyid:' .. kid)
  if hmac then redis.call('DEL', 'ah:key:' .. hmac) end
  redis.call('DEL', 'ah:keyid:' .. kid)
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('ZREM', KEYS[3], ARGV[1])
return {'ok', #kids}
