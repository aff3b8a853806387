-- record_get.lua: one admin record by id. Read-only.
--
-- KEYS[1]   the record's hash (ah:user:<id>), or ah:keyid:<id> for an API key
-- ARGV[1]   "hash" or "keyid"
-- Derived inside for "keyid" (documented exception): ah:key:<hmac>.
--
-- Returns the flat HGETALL (empty when missing).
ah_expect_counts('record_get', 1, 1)
if ARGV[1] == 'keyid' then
  local hmac = redis.call('GET', KEYS[1])
  if not hmac then return {} end
  return redis.call('HGETALL', 'ah:key:' .. hmac)
end
return redis.call('HGETALL', KEYS[1])
