-- key_delete.lua: revoke a user API key at once (the next admission on any
-- node finds no record).
--
-- KEYS[1]   ah:keyid:<key_id>
-- ARGV[1]   key_id
-- Derived inside (documented exception to "keys through KEYS"): the record
-- ah:key:<hmac> named by KEYS[1], and ah:user:<uid>:keys of its user.
--
-- Returns {"err","not_found"} | {"ok"}
ah_expect_counts('key_delete', 1, 1)
local hmac = redis.call('GET', KEYS[1])
if not hmac then return {'err', 'not_found'} end
local rec = 'ah:key:' .. hmac
local uid = redis.call('HGET', rec, 'user_id')
redis.call('DEL', rec, KEYS[1])
if uid then redis.call('ZREM', 'ah:user:' .. uid .. ':keys', ARGV[1]) end
return {'ok'}
