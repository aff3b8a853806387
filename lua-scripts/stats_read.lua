-- stats_read.lua: the day and hour stats hashes GET /api/stats reports, read
-- in one call so that the node makes one round trip whatever the range. It
-- first folds the request-log entries not yet counted (stats_fold.lua), at
-- most 100,000, so the stats include every request settled before the read;
-- it writes nothing else.
--
-- KEYS[1..n]   ah:stats:d:<YYYYMMDD> and ah:stats:h:<YYYYMMDDHH>, in the
--              order the caller wants them back (at most 300)
--
-- Returns one flat HGETALL reply per key, in the order of KEYS ({} for a
-- hash that does not exist: a day with no traffic).

local MAX_KEYS = 300
local fold_rounds = 0
if #ARGV ~= 0 then ah_fail('stats_read: expected no ARGV, got ' .. #ARGV) end
if #KEYS > MAX_KEYS then ah_fail('stats_read: at most ' .. MAX_KEYS .. ' keys, got ' .. #KEYS) end
for _, k in ipairs(KEYS) do
  if not string.match(k, '^ah:stats:d:%d%d%d%d%d%d%d%d$') and not string.match(k, '^ah:stats:h:%d%d%d%d%d%d%d%d%d%d$') then
    ah_fail('stats_read: not a stats key: ' .. k)
  end
end

-- derived inside (documented exception): the log, the cursor, the stats
while money_stats_fold(20000) == 20000 and fold_rounds < 4 do fold_rounds = fold_rounds + 1 end

local out = {}
for i, k in ipairs(KEYS) do
  out[i] = redis.call('HGETALL', k)
end
return out
