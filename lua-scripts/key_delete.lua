-- key_delete.lua: revoke a user API key at once (the next admission on any
-- node finds no record).
--
-- KEYS[1]   ah:keyid:<key_id>
-- ARGV[1]   key_id
-- Derived inside (documented exception to "keys through KEYS"): the record
-- ah:key:<hmac> named by KEYS[1], and ah:user:<uid>:keys of its user.
--
-- The record is deleted only if its "id" is ARGV[1] (a pointer to another
-- key's record, which only corrupt data can hold, never revokes that key);
-- KEYS[1] itself is always deleted.
--
-- Malformed calls (error reply, nothing written): not 1 KEYS and 1 ARGV, an
-- empty id, KEYS[1] other than ah:keyid:<ARGV[1]>.
--
-- Returns {"err","not_found"} | {"ok"}
ah_expect_counts('key_delete', 1, 1)
if ARGV[1] == '' then ah_fail('key_delete: empty key id') end
if KEYS[1] ~= 'ah:keyid:' .. ARGV[1] then
  ah_fail('key_delete: KEYS[1] is ' .. KEYS[1] .. ', expected ah:keyid:' .. ARGV[1])
end
local hmac = redis.call('GET', KEYS[1])
if not hmac then return {'err', 'not_found'} end
local rec = 'ah:key:' .. hmac
local f = redis.call('HMGET', rec, 'id', 'user_id')
redis.call('DEL', KEYS[1])
if f[1] == ARGV[1] then
  redis.call('DEL', rec)
  if f[2] then redis.call('ZREM', 'ah:user:' .. f[2] .. ':keys', ARGV[1]) end
end
return {'ok'}
