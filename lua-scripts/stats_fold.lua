-- stats_fold.lua: counts the request-log entries written since the last fold
-- into the day and hour stats (lib/money.lua money_stats_fold). Every node
-- calls it about once a second; stats_read and usage_view fold first too, so
-- what they report includes every request settled before the read. Atomic
-- and idempotent: folds from several nodes at once count each entry once.
--
-- KEYS[1]   ah:logs           the request log
-- KEYS[2]   ah:stats_cursor   id of the last entry counted
-- ARGV[1]   max               most entries counted in this call (1..100000)
-- Derived inside (documented exception): the stats hashes.
--
-- Returns the number of entries counted (max: call again, more are waiting).
ah_expect_counts('stats_fold', 2, 1)
if KEYS[1] ~= AH_LOGS_KEY or KEYS[2] ~= AH_STATS_CURSOR then
  ah_fail('stats_fold: KEYS must be ' .. AH_LOGS_KEY .. ' and ' .. AH_STATS_CURSOR)
end
local max = ah_int(ARGV[1], 'max')
if max < 1 or max > 100000 then ah_fail('stats_fold: max must be 1..100000') end
return money_stats_fold(max)
