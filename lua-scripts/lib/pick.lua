-- lib/pick.lua: candidate parsing and the weighted draw that chooses a
-- provider account. Local functions only (see lib/common.lua).
--
-- Candidates arrive as a count followed by that many triples in ARGV:
--   ARGV[o] = n, then for i = 1..n:
--   ARGV[o+3i-2] = account id, ARGV[o+3i-1] = priority (integer, higher
--   first), ARGV[o+3i] = weight (integer >= 1);
-- and, in the same order, KEYS[k+i] = "ah:acct:<id>" (the account's runtime
-- hash; checked, so a misordered call fails loudly instead of reading the
-- wrong account's state).
--
-- Selection: skip candidates with disabled = "1" and those whose
-- cooldown_until (unix ms) is later than now; among the rest keep the highest
-- priority present; walk the kept ones in the given order, accumulating
-- weights, and take the first whose cumulative weight exceeds r * total.
-- r in [0, 1) comes from the caller, so a test can pin the draw.
--
-- Functions: pick_parse_r, pick_count and pick_parse check the input (call
-- them before any write, so a malformed call changes nothing); pick_choose
-- reads the accounts' state and draws; pick does all of it at once.

-- Parse and check the draw's random number, a decimal string in [0, 1).
local function pick_parse_r(v)
  local r = tonumber(v)
  -- written so that NaN fails too
  if type(v) ~= 'string' or r == nil or not (r >= 0 and r < 1) then
    ah_fail('r must be a decimal in [0, 1), got ' .. tostring(v))
  end
  return r
end

-- Number of candidates announced at ARGV[argv_offset].
local function pick_count(argv_offset)
  local n = ah_int(ARGV[argv_offset], 'candidate count')
  if n < 0 then
    ah_fail('candidate count must be >= 0, got ' .. n)
  end
  return n
end

-- ah_int for field `what` of candidate i; the error text is built only on
-- failure (this runs for every candidate of every request).
local function pick_int(v, i, what)
  local digits = type(v) == 'string' and string.match(v, '^%-?(%d+)$')
  if not digits or #digits > 15 then
    ah_fail('candidate ' .. i .. ' ' .. what .. ' must be a decimal integer, got ' .. tostring(v))
  end
  return tonumber(v)
end

-- Parse the candidates into a list of {id, key, priority, weight, rpm, tpm},
-- checking every field and the KEYS that go with them. width is 3 (id,
-- priority, weight) or 5 (plus the account's own rpm and tpm limits, 0 =
-- none); it defaults to 3.
local function pick_parse(keys_offset, argv_offset, width)
  width = width or 3
  local n = pick_count(argv_offset)
  local list = {}
  for i = 1, n do
    local a = argv_offset + width * (i - 1)
    local id = ARGV[a + 1]
    if id == nil or id == '' then
      ah_fail('candidate ' .. i .. ': missing account id')
    end
    local priority = pick_int(ARGV[a + 2], i, 'priority')
    local weight = pick_int(ARGV[a + 3], i, 'weight')
    if weight < 1 then
      ah_fail('candidate ' .. i .. ': weight must be >= 1, got ' .. weight)
    end
    local key = KEYS[keys_offset + i]
    if key ~= AH_ACCT_PREFIX .. id then
      ah_fail('candidate ' .. i .. ': KEYS[' .. (keys_offset + i) .. '] is '
        .. tostring(key) .. ', expected ' .. AH_ACCT_PREFIX .. id)
    end
    local rpm, tpm = 0, 0
    if width == 5 then
      rpm = pick_int(ARGV[a + 4], i, 'rpm')
      tpm = pick_int(ARGV[a + 5], i, 'tpm')
    end
    list[i] = {id = id, key = key, priority = priority, weight = weight, rpm = rpm, tpm = tpm}
  end
  return list
end

-- Choose one account among the parsed candidates `list` (from pick_parse)
-- with the draw r (a number, from pick_parse_r) at time now_ms. Accounts at
-- their own rpm/tpm limit (for `tokens` more) are skipped like cooling ones.
-- Returns the chosen id and its opened window (lib/limits.lua, for lim_add;
-- nil when the account has no limits);
-- or nil, the soonest time in ms at which a skipped
-- candidate may serve again (-1 when none will: all disabled, or no
-- candidates at all), and the reason: "rate_limit_exceeded" when some
-- candidate was skipped for its limit, else "no_available_account".
local function pick_choose(list, r, now_ms, tokens)
  local kept, total, best = {}, 0, nil
  local soonest, limited = nil, false
  local now_s = math.floor(now_ms / 1000)
  for _, c in ipairs(list) do
    local st = redis.call('HMGET', c.key, 'cooldown_until', 'disabled')
    local until_ms = tonumber(st[1]) or 0
    local wait = nil
    if st[2] == '1' then
      -- disabled until an operator resets it: never a retry time
    elseif until_ms > now_ms then
      wait = until_ms - now_ms
    elseif c.rpm > 0 or c.tpm > 0 then
      -- only an account with limits has (and needs) a window
      c.lim = lim_open('acct', c.id, now_s)
      c.lim.tpm_limited = c.tpm > 0
      local ok1, _, w1 = lim_rpm_check(c.lim, c.rpm, now_ms)
      local ok2, _, w2 = lim_tpm_check(c.lim, c.tpm, tokens or 0, now_ms)
      if not ok1 or not ok2 then
        limited = true
        wait = math.max(ok1 and 0 or w1, ok2 and 0 or w2)
      end
    end
    if wait ~= nil then
      if soonest == nil or wait < soonest then soonest = wait end
    elseif st[2] ~= '1' then
      if best == nil or c.priority > best then
        best, kept, total = c.priority, {}, 0
      end
      if c.priority == best then
        kept[#kept + 1] = c
        total = total + c.weight
      end
    end
  end
  if #kept == 0 then
    return nil, soonest or -1, limited and 'rate_limit_exceeded' or 'no_available_account'
  end
  local target = r * total
  local acc = 0
  for _, c in ipairs(kept) do
    acc = acc + c.weight
    if acc > target then return c.id, c.lim end
  end
  -- unreachable for r < 1 unless r * total rounded up to total
  return kept[#kept].id, kept[#kept].lim
end

-- pick_parse, pick_parse_r and pick_choose in one call, for scripts that
-- have nothing to write before the choice.
local function pick(keys_offset, argv_offset, r_text, now_ms)
  local r = pick_parse_r(r_text)
  return pick_choose(pick_parse(keys_offset, argv_offset), r, now_ms)
end
