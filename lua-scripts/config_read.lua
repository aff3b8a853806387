-- config_read.lua: a consistent snapshot of the whole configuration, read
-- in one atomic step so that the version matches the objects.
--
-- KEYS[1]   ah:cfg:ver        integer version (absent = 0)
-- KEYS[2]   ah:cfg:channels   HASH channel id -> JSON
-- KEYS[3]   ah:cfg:accounts   HASH account id -> JSON
-- KEYS[4]   ah:cfg:modelmap   STRING, JSON
-- KEYS[5]   ah:cfg:settings   STRING, JSON
-- KEYS[6]   ah:cfg:prices     STRING, JSON
-- (no ARGV)
--
-- Returns {ver, channels, accounts, modelmap, settings, prices}: ver an
-- integer, channels and accounts flat [id, json, id, json, ...] arrays
-- (HGETALL), modelmap, settings and prices the JSON text or "" when absent.

local ver_key = KEYS[1]
local channels_key = KEYS[2]
local accounts_key = KEYS[3]
local modelmap_key = KEYS[4]
local settings_key = KEYS[5]
local prices_key = KEYS[6]
ah_expect_counts('config_read', 6, 0)

local ver = tonumber(redis.call('GET', ver_key)) or 0
return {
  ver,
  redis.call('HGETALL', channels_key),
  redis.call('HGETALL', accounts_key),
  redis.call('GET', modelmap_key) or '',
  redis.call('GET', settings_key) or '',
  redis.call('GET', prices_key) or '',
}
