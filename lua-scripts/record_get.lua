-- record_get.lua: one admin record by id. Read-only.
--
-- KEYS[1]   the record's hash (ah:user:<id>), or ah:keyid:<id> for an API key
-- ARGV[1]   "hash" or "keyid"
-- Derived inside for "keyid" (documented exception): ah:key:<hmac>.
--
-- Returns the flat HGETALL (empty when missing). Any other ARGV[1] is a
-- malformed call (error reply).
ah_expect_counts('record_get', 1, 1)
if ARGV[1] ~= 'hash' and ARGV[1] ~= 'keyid' then
  ah_fail('record_get: mode must be hash or keyid, got ' .. ARGV[1])
end
if ARGV[1] == 'keyid' then
  local hmac = redis.call('GET', KEYS[1])
  if not hmac then return {} end
  return redis.call('HGETALL', 'ah:key:' .. hmac)
end
return redis.call('HGETALL', KEYS[1])
