-- lib/config.lua: helpers of the configuration scripts (config_*.lua).
-- Local functions and constants only (see lib/common.lua).

-- Pub/sub channel on which every configuration change publishes the new
-- version (a channel, not a key: it is not passed through KEYS).
local AH_CFG_CHANNEL = 'ah:cfg:changed'

-- Fail unless `text` is JSON whose top level is an object or an array, so a
-- malformed write can never reach the nodes' snapshots.
local function cfg_check_json(script, what, text)
  local ok, v = pcall(cjson.decode, text or '')
  if not ok or type(v) ~= 'table' then
    ah_fail(script .. ': ' .. what .. ' must be a JSON object or array')
  end
end

-- Bump the configuration version at ver_key and announce it; returns the new
-- version.
local function cfg_bump(ver_key)
  local ver = redis.call('INCR', ver_key)
  redis.call('PUBLISH', AH_CFG_CHANNEL, ah_int_str(ver))
  return ver
end
