-- key_update.lua: change fields of a user API key reached by its id.
--
-- KEYS[1]   ah:keyid:<key_id>
-- ARGV[1]   key_id
-- ARGV[2..] field, value pairs
-- Derived inside (documented exception): ah:key:<hmac>.
--
-- Returns {"err","not_found"} | {"ok"}
if #KEYS ~= 1 or #ARGV < 1 or #ARGV % 2 ~= 1 then ah_fail('key_update: expected 1 key, an id and field/value pairs') end
local hmac = redis.call('GET', KEYS[1])
if not hmac then return {'err', 'not_found'} end
local rec = 'ah:key:' .. hmac
if redis.call('HGET', rec, 'id') ~= ARGV[1] then return {'err', 'not_found'} end
if #ARGV >= 3 then redis.call('HSET', rec, unpack(ARGV, 2)) end
return {'ok'}
