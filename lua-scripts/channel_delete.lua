-- channel_delete.lua: delete a channel with all of its accounts, release
-- their unique names, bump the configuration version and announce it.
--
-- KEYS[1]   ah:cfg:channels
-- KEYS[2]   ah:cfg:accounts
-- KEYS[3]   ah:cfg:names
-- KEYS[4]   ah:cfg:ver
-- ARGV[1]   channel id
-- Derived inside (documented exception): ah:acct:<id> runtime state of each
-- deleted account.
--
-- Malformed calls (error reply, nothing written): not 4 KEYS and 1 ARGV, an
-- empty channel id.
--
-- Returns {"err","not_found"} | {"ok", ver, accounts_deleted}
ah_expect_counts('channel_delete', 4, 1)
local id = ARGV[1]
if id == '' then ah_fail('channel_delete: empty channel id') end
local text = redis.call('HGET', KEYS[1], id)
if not text then return {'err', 'not_found'} end
local ok, ch = pcall(cjson.decode, text)
if ok and type(ch) == 'table' and type(ch.name) == 'string' then
  if redis.call('HGET', KEYS[3], 'channel:' .. ch.name) == id then
    redis.call('HDEL', KEYS[3], 'channel:' .. ch.name)
  end
end
local all = redis.call('HGETALL', KEYS[2])
local n = 0
for i = 1, #all, 2 do
  local aok, acct = pcall(cjson.decode, all[i + 1])
  if aok and type(acct) == 'table' and acct.channel_id == id then
    redis.call('HDEL', KEYS[2], all[i])
    if type(acct.key_hmac) == 'string' then
      local field = 'acctkey:' .. id .. ':' .. acct.key_hmac
      if redis.call('HGET', KEYS[3], field) == all[i] then redis.call('HDEL', KEYS[3], field) end
    end
    redis.call('DEL', 'ah:acct:' .. all[i])
    n = n + 1
  end
end
redis.call('HDEL', KEYS[1], id)
return {'ok', cfg_bump(KEYS[4]), n}
