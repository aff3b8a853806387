-- key_update.lua: change fields of a user API key reached by its id.
--
-- KEYS[1]   ah:keyid:<key_id>
-- ARGV[1]   key_id
-- ARGV[2..] field, value pairs; not "id" or "user_id" (a key keeps its id
--           and its user)
-- Derived inside (documented exception): ah:key:<hmac>.
--
-- Malformed calls (error reply, nothing written): not 1 KEYS, an empty id,
-- KEYS[1] other than ah:keyid:<ARGV[1]>, an unpaired field, an id or
-- user_id pair.
--
-- Returns {"err","not_found"} | {"ok"}
if #KEYS ~= 1 or #ARGV < 1 or #ARGV % 2 ~= 1 then ah_fail('key_update: expected 1 key, an id and field/value pairs') end
if ARGV[1] == '' then ah_fail('key_update: empty key id') end
if KEYS[1] ~= 'ah:keyid:' .. ARGV[1] then
  ah_fail('key_update: KEYS[1] is ' .. KEYS[1] .. ', expected ah:keyid:' .. ARGV[1])
end
for i = 2, #ARGV, 2 do
  if ARGV[i] == 'id' or ARGV[i] == 'user_id' then
    ah_fail('key_update: field ' .. ARGV[i] .. ' cannot be changed')
  end
end
local hmac = redis.call('GET', KEYS[1])
if not hmac then return {'err', 'not_found'} end
local rec = 'ah:key:' .. hmac
if redis.call('HGET', rec, 'id') ~= ARGV[1] then return {'err', 'not_found'} end
if #ARGV >= 3 then redis.call('HSET', rec, unpack(ARGV, 2)) end
return {'ok'}
