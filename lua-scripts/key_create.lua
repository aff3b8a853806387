-- key_create.lua: store a new user API key, found later by the keyed hash of
-- the key (the key itself is never stored).
--
-- KEYS[1]   ah:key:<hmac>          the key record
-- KEYS[2]   ah:keyid:<key_id>      STRING -> hmac, to reach the record by id
-- KEYS[3]   ah:user:<uid>:keys     ZSET of the user's key ids (scores 0)
-- KEYS[4]   ah:user:<uid>          the owning user, which must exist
-- ARGV[1]   key_id
-- ARGV[2]   hmac
-- ARGV[3..] field, value pairs (user_id, name, enabled, limits, ...)
--
-- Returns {"err","user_not_found"} | {"err","exists"} | {"ok"}
ah_expect_counts('key_create', 4, #ARGV)
if #ARGV < 2 or #ARGV % 2 ~= 0 then ah_fail('key_create: fields must come in pairs') end
if redis.call('EXISTS', KEYS[4]) == 0 then return {'err', 'user_not_found'} end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return {'err', 'exists'} end
redis.call('HSET', KEYS[1], 'id', ARGV[1])
if #ARGV >= 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {'ok'}
