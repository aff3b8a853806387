-- record_put.lua: create or update one admin record kept as a Redis hash
-- (a user, a user API key), keeping its unique-name index and its listing
-- index right. Used by the admin API; never on the request path.
--
-- KEYS[1]   record          the record's hash, e.g. ah:user:<id>, ah:key:<hmac>
-- KEYS[2]   name index      HASH name -> id (e.g. ah:user_names); only when
--                           ARGV[3] is not ""
-- KEYS[3]   listing         ZSET of ids, all scores 0, read newest first by
--                           lexicographic order of the time-ordered ids
--                           (e.g. ah:users); only on create
-- (#KEYS may be 1 when neither index applies.)
-- ARGV[1]   mode            "create": the record must not exist;
--                           "update": the record must exist
-- ARGV[2]   id              the record's id (stored in field "id" on create)
-- ARGV[3]   name            the unique name to hold ("" = no uniqueness); the
--                           record's "name" field is set to it
-- ARGV[4..] field, value    pairs to set; "id" and "name" are not allowed
--                           here (they come from ARGV[2] and ARGV[3])
--
-- Malformed calls (error reply, nothing written): #KEYS outside 1..3, a mode
-- other than create/update, an empty id, an unpaired field, "id" or "name"
-- among the pairs, a name without KEYS[2], a create with 2 KEYS.
--
-- Returns (a refusal changes nothing):
--   {"err", "exists"} | {"err", "not_found"} | {"err", "conflict"}
--   {"ok"}
if #KEYS < 1 or #KEYS > 3 then ah_fail('record_put: expected 1 to 3 KEYS, got ' .. #KEYS) end
local rec_key = KEYS[1]
local mode, id, name = ARGV[1], ARGV[2], ARGV[3]
if mode ~= 'create' and mode ~= 'update' then ah_fail('record_put: bad mode ' .. tostring(mode)) end
if id == nil or id == '' then ah_fail('record_put: empty id') end
if #ARGV % 2 ~= 1 then ah_fail('record_put: fields must come in pairs') end
for i = 4, #ARGV, 2 do
  if ARGV[i] == 'id' or ARGV[i] == 'name' then
    ah_fail('record_put: field ' .. ARGV[i] .. ' is set through ARGV, not as a pair')
  end
end
if name ~= '' and #KEYS < 2 then ah_fail('record_put: a name needs the name index key') end
if mode == 'create' and #KEYS < 3 and #KEYS ~= 1 then ah_fail('record_put: create needs the listing key') end

local exists = redis.call('EXISTS', rec_key) == 1
if mode == 'create' and exists then return {'err', 'exists'} end
if mode == 'update' and not exists then return {'err', 'not_found'} end
if mode == 'update' and redis.call('HGET', rec_key, 'id') ~= id then return {'err', 'not_found'} end

if name ~= '' then
  local owner = redis.call('HGET', KEYS[2], name)
  if owner and owner ~= id then return {'err', 'conflict'} end
  local old = redis.call('HGET', rec_key, 'name')
  if old and old ~= name and redis.call('HGET', KEYS[2], old) == id then
    redis.call('HDEL', KEYS[2], old)
  end
  redis.call('HSET', KEYS[2], name, id)
  redis.call('HSET', rec_key, 'name', name)
end
if mode == 'create' then
  redis.call('HSET', rec_key, 'id', id)
  if #KEYS >= 3 then redis.call('ZADD', KEYS[3], 0, id) end
end
if #ARGV >= 4 then
  redis.call('HSET', rec_key, unpack(ARGV, 4))
end
return {'ok'}
