-- config_set.lua: replace a whole configuration document (the model map or
-- the settings), bump the version and announce it.
--
-- KEYS[1]   the document    ah:cfg:modelmap or ah:cfg:settings (STRING)
-- KEYS[2]   ah:cfg:ver      integer version
-- ARGV[1]   json            the whole document, JSON text (object or array)
--
-- Returns the new version (an integer), also published on the channel
-- ah:cfg:changed.

local doc_key = KEYS[1]
local ver_key = KEYS[2]
local json = ARGV[1]
ah_expect_counts('config_set', 2, 1)
cfg_check_json('config_set', 'ARGV[1]', json)

redis.call('SET', doc_key, json)
return cfg_bump(ver_key)
