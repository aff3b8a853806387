-- config_put.lua: create or replace one configuration object (a channel, an
-- account, ...), keep the name index right, bump the version and announce it.
--
-- KEYS[1]   object hash     e.g. ah:cfg:channels, ah:cfg:accounts (id -> JSON)
-- KEYS[2]   ah:cfg:names    HASH unique field "<scope>:<name>" -> owning id
-- KEYS[3]   ah:cfg:ver      integer version
-- ARGV[1]   id              the object's id (non-empty)
-- ARGV[2]   json            the whole object, JSON text (object or array)
-- ARGV[3]   unique field    to claim for this id, "" = none, e.g.
--                           "channel:openai-main", "acctkey:<channel>:<hmac>"
-- ARGV[4]   old field       to release ("" = none), for renames; released
--                           only if this id owns it
-- ARGV[5]   mode            "create": the id must not exist;
--                           "update": the id must exist
--
-- Returns, checked in this order (a refusal changes nothing):
--   {"err", "exists"}      create, and the id already exists
--   {"err", "not_found"}   update, and the id does not exist
--   {"err", "conflict"}    the unique field is owned by another id
--   {"ok", ver}            stored; ver = the new version, also published on
--                          the channel ah:cfg:changed

local obj_key = KEYS[1]
local names_key = KEYS[2]
local ver_key = KEYS[3]
local id = ARGV[1]
local json = ARGV[2]
local unique = ARGV[3]
local old_unique = ARGV[4]
local mode = ARGV[5]
ah_expect_counts('config_put', 3, 5)
if id == '' then ah_fail('config_put: empty id') end
if mode ~= 'create' and mode ~= 'update' then
  ah_fail('config_put: mode must be create or update, got ' .. tostring(mode))
end
cfg_check_json('config_put', 'ARGV[2]', json)

local exists = redis.call('HEXISTS', obj_key, id) == 1
if mode == 'create' and exists then return {'err', 'exists'} end
if mode == 'update' and not exists then return {'err', 'not_found'} end
if unique ~= '' then
  local owner = redis.call('HGET', names_key, unique)
  if owner and owner ~= id then return {'err', 'conflict'} end
end

redis.call('HSET', obj_key, id, json)
if old_unique ~= '' and old_unique ~= unique
    and redis.call('HGET', names_key, old_unique) == id then
  redis.call('HDEL', names_key, old_unique)
end
if unique ~= '' then
  redis.call('HSET', names_key, unique, id)
end
return {'ok', cfg_bump(ver_key)}
