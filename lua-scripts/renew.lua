-- renew.lua: extends the lease of a long request (its hold, and with it its
-- in-flight counts, which only the sweep of an expired lease lowers), so that
-- only a request whose node died lets its lease expire.
--
-- KEYS[1]   ah:holds      ZSET lease -> expiry (unix ms)
-- ARGV[1]   lease
-- ARGV[2]   ttl_ms        the new lease runs from now (>= 1000)
-- Derived inside (documented exception): ah:hold:<lease>.
--
-- Returns 1, or 0 when the lease is gone (already swept or settled).
ah_expect_counts('renew', 1, 2)
local lease = ARGV[1]
local ttl_ms = ah_int(ARGV[2], 'ttl_ms')
if ttl_ms < 1000 then ah_fail('renew: ttl_ms must be >= 1000') end
local _, now_ms = ah_now()
if redis.call('ZSCORE', KEYS[1], lease) == false then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now_ms + ttl_ms, lease)
redis.call('PEXPIRE', 'ah:hold:' .. lease, ttl_ms + 86400000)
return 1
