-- renew.lua: extends the lease of a long request (its hold and in-flight
-- slots), so that only a request whose node died lets its lease expire.
--
-- KEYS[1]   ah:holds      ZSET lease -> expiry (unix ms)
-- ARGV[1]   lease
-- ARGV[2]   ttl_ms        the new lease runs from now (>= 1000)
-- Derived inside (documented exception): ah:hold:<lease>, the key's and
-- user's in-flight sets.
--
-- Returns 1, or 0 when the lease is gone (already swept or settled).
ah_expect_counts('renew', 1, 2)
local lease = ARGV[1]
local ttl_ms = ah_int(ARGV[2], 'ttl_ms')
if ttl_ms < 1000 then ah_fail('renew: ttl_ms must be >= 1000') end
local _, now_ms = ah_now()
if redis.call('ZSCORE', KEYS[1], lease) == false then return 0 end
local expiry = now_ms + ttl_ms
redis.call('ZADD', KEYS[1], 'XX', expiry, lease)
local h = redis.call('HMGET', 'ah:hold:' .. lease, 'user_id', 'key_id')
-- the sets' own expiry was set by the latest admission: extend it too, or a
-- long request would lose its slot when no other request came meanwhile
for _, id in ipairs({{'user', h[1]}, {'key', h[2]}}) do
  if id[2] then
    local key = lim_inflight_key(id[1], id[2])
    redis.call('ZADD', key, 'XX', expiry, lease)
    local pttl = redis.call('PTTL', key)
    if pttl >= 0 and pttl < ttl_ms + 60000 then redis.call('PEXPIRE', key, ttl_ms + 60000) end
  end
end
redis.call('PEXPIRE', 'ah:hold:' .. lease, ttl_ms + 86400000)
return 1
