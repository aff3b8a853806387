-- config_delete.lua: delete one configuration object, release its unique
-- name, bump the version and announce it.
--
-- KEYS[1]   object hash     e.g. ah:cfg:channels, ah:cfg:accounts
-- KEYS[2]   ah:cfg:names    HASH unique field -> owning id
-- KEYS[3]   ah:cfg:ver      integer version
-- ARGV[1]   id              the object's id
-- ARGV[2]   unique field    to release, "" = none; released only if this id
--                           owns it
--
-- Returns {"err", "not_found"} (nothing changed) or {"ok", ver}: ver = the
-- new version, also published on the channel ah:cfg:changed.

local obj_key = KEYS[1]
local names_key = KEYS[2]
local ver_key = KEYS[3]
local id = ARGV[1]
local unique = ARGV[2]
ah_expect_counts('config_delete', 3, 2)

if redis.call('HDEL', obj_key, id) == 0 then return {'err', 'not_found'} end
if unique ~= '' and redis.call('HGET', names_key, unique) == id then
  redis.call('HDEL', names_key, unique)
end
return {'ok', cfg_bump(ver_key)}
