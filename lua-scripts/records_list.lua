-- records_list.lua: one page of admin records, newest first.
-- Read-only.
--
-- KEYS[1]   listing ZSET of ids (scores 0; ids sort by creation time)
-- ARGV[1]   record key prefix, starting with "ah:", e.g. "ah:user:"; or
--           "keyid" to list API keys (ah:keyid:<id> -> hmac -> ah:key:<hmac>)
-- ARGV[2]   before: an id, or "" for the newest
-- ARGV[3]   limit (1..1000)
-- Derived inside (documented exception): the records named by the ids.
--
-- Returns { next_id_or_empty, { flat HGETALL of each record }... }
ah_expect_counts('records_list', 1, 3)
local prefix, before = ARGV[1], ARGV[2]
if prefix ~= 'keyid' and string.sub(prefix, 1, 3) ~= 'ah:' then
  ah_fail('records_list: prefix must be "keyid" or start with "ah:", got ' .. prefix)
end
local limit = ah_int(ARGV[3], 'limit')
if limit < 1 or limit > 1000 then ah_fail('records_list: limit must be 1..1000') end
local max = '+'
if before ~= '' then max = '(' .. before end
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], max, '-', 'LIMIT', 0, limit + 1)
local out = {''}
for i = 1, math.min(#ids, limit) do
  local rec
  if prefix == 'keyid' then
    local hmac = redis.call('GET', 'ah:keyid:' .. ids[i])
    rec = hmac and redis.call('HGETALL', 'ah:key:' .. hmac) or {}
  else
    rec = redis.call('HGETALL', prefix .. ids[i])
  end
  out[#out + 1] = rec
end
if #ids > limit then out[1] = ids[limit] end
return out
