-- account_reset.lua: an operator's reset of a provider account: ends its
-- cooldown and its disabled state and forgets the last error. Counters
-- (requests, errors, ...) and the latency record are kept.
--
-- KEYS[1]   ah:acct:<id>
-- (no ARGV)
--
-- Returns 1 (also when the account had nothing to clear).

local acct_key = KEYS[1]
ah_expect_counts('account_reset', 1, 0)

redis.call('HDEL', acct_key, 'cooldown_until', 'disabled', 'disabled_reason',
  'last_error')
return 1
