-- audit_list.lua: one page of the audit log (ah:audit), newest first, with
-- filters. Read-only.
--
-- KEYS[1]   ah:audit               a stream; each entry: actor, role, via, action, target, summary, status,
--                                  request_id, ip (the node appends entries with XADD ... MAXLEN ~ n)
-- ARGV[1]   before                 a stream id, or unix ms: only older entries ("" = from the newest)
-- ARGV[2]   limit                  1..1000
-- ARGV[3]   actor                  "" = any; else equal
-- ARGV[4]   action                 "" = any; else contained in the action ("METHOD /api/pattern"), plain text
-- ARGV[5]   target                 "" = any; else equal
-- ARGV[6]   scan                   the most entries examined, 1..100000
--
-- Returns {next, entry_1, ..., entry_k}, k ≤ limit, each entry {id, field, value, ...};
-- next = the id of the last entry examined when older entries remain (pass it
-- back as before), "" when the stream was read to its end.
ah_expect_counts('audit_list', 1, 6)
local before, actor, action, target = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local limit = ah_int(ARGV[2], 'limit')
local scan = ah_int(ARGV[6], 'scan')
if limit < 1 or limit > 1000 then ah_fail('audit_list: limit must be 1..1000') end
if scan < 1 or scan > 100000 then ah_fail('audit_list: scan must be 1..100000') end
if before ~= '' and not string.match(before, '^%d+%-%d+$') and not string.match(before, '^%d+$') then
  ah_fail('audit_list: before must be a stream id')
end
local out = {''}
-- next: the last id examined when an older entry exists
local function finish(last)
  if #redis.call('XREVRANGE', KEYS[1], '(' .. last, '-', 'COUNT', 1) == 1 then out[1] = last end
  return out
end
-- a bare millisecond time means entries older than that millisecond
if string.match(before, '^%d+$') then before = before .. '-0' end
local upper = before ~= '' and ('(' .. before) or '+'
local examined, last = 0, nil
while true do
  local batch = redis.call('XREVRANGE', KEYS[1], upper, '-', 'COUNT', math.min(200, scan - examined))
  if #batch == 0 then return out end
  for _, e in ipairs(batch) do
    examined = examined + 1
    last = e[1]
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    if (actor == '' or f.actor == actor) and (action == '' or (f.action and string.find(f.action, action, 1, true)))
        and (target == '' or f.target == target) then
      local entry = {e[1]}
      for i = 1, #e[2] do entry[#entry + 1] = e[2][i] end
      out[#out + 1] = entry
      if #out - 1 == limit then return finish(last) end
    end
    if examined >= scan then return finish(last) end
  end
  upper = '(' .. last
end
