-- key_create.lua: store a new user API key, found later by the keyed hash of
-- the key (the key itself is never stored).
--
-- KEYS[1]   ah:key:<hmac>          the key record
-- KEYS[2]   ah:keyid:<key_id>      STRING -> hmac, to reach the record by id
-- KEYS[3]   ah:user:<uid>:keys     ZSET of the user's key ids (scores 0)
-- KEYS[4]   ah:user:<uid>          the owning user, which must exist
-- ARGV[1]   key_id
-- ARGV[2]   hmac
-- ARGV[3..] field, value pairs (user_id, name, enabled, limits, ...); user_id
--           must be among them and name the user of KEYS[4]; "id" must not
--           (it is ARGV[1])
--
-- Malformed calls (error reply, nothing written): not 4 KEYS, an empty id or
-- hmac, KEYS that do not match ARGV[1], ARGV[2] and the user_id field, an
-- unpaired field, a missing user_id or an "id" pair.
--
-- Returns {"err","user_not_found"} | {"err","exists"} | {"ok"}
ah_expect_counts('key_create', 4, #ARGV)
if #ARGV < 2 or #ARGV % 2 ~= 0 then ah_fail('key_create: fields must come in pairs') end
local kid, hmac = ARGV[1], ARGV[2]
if kid == '' or hmac == '' then ah_fail('key_create: empty key id or hmac') end
local uid = nil
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'id' then ah_fail('key_create: field id is ARGV[1], not a pair') end
  if ARGV[i] == 'user_id' then uid = ARGV[i + 1] end
end
if uid == nil or uid == '' then ah_fail('key_create: the user_id field is required') end
local expected = {'ah:key:' .. hmac, 'ah:keyid:' .. kid, 'ah:user:' .. uid .. ':keys', 'ah:user:' .. uid}
for i = 1, 4 do
  if KEYS[i] ~= expected[i] then
    ah_fail('key_create: KEYS[' .. i .. '] is ' .. KEYS[i] .. ', expected ' .. expected[i])
  end
end
if redis.call('EXISTS', KEYS[4]) == 0 then return {'err', 'user_not_found'} end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return {'err', 'exists'} end
redis.call('HSET', KEYS[1], 'id', ARGV[1])
if #ARGV >= 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {'ok'}
