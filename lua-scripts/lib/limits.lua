-- lib/limits.lua: rate limits, in-flight counts and calendar helpers.
-- Local functions only (see lib/common.lua).
--
-- RPM and TPM share one window per limiter: a HASH ah:lim:<scope>:<id> of
-- 1-second buckets with running sums, so a check reads a handful of fields
-- instead of the whole window:
--   rs, ts           the sums of the buckets still in the window
--   tr               every bucket of a second <= tr has been dropped
--   o                the oldest second that still has a bucket (absent: none)
--   cs, cr, ct       the newest bucket: its second, requests and tokens
--   r<sec>, t<sec>   the older buckets (sec < cs): requests and tokens
-- The window at second S holds the buckets of S-60 .. S (61 buckets): a
-- request counts from its admission until the end of the 60th second after
-- it (60 to 61 s). Any requests less than 60 s apart are therefore counted
-- together when the later one is admitted, so no 60-second span ever holds
-- more than N requests (or tokens); the window can refuse up to one second
-- early, never let more through. A burst of N at once is allowed.
--
-- Why the newest bucket has fixed fields: Redis keeps a small hash as one
-- list (a listpack) searched from the front, and a busy window has ~120
-- bucket fields. The fields every request reads and writes (the sums and the
-- newest bucket) are written first, so they sit at the front; a bucket moves
-- to r<sec>/t<sec> at the back once, when the next second's first request
-- comes. Searching to the back for the current second's bucket on every
-- request cost about a tenth of Redis's time per request.
--
-- Buckets leave as time passes: the first call in a new second drops the
-- seconds between tr and S-61 (one HMGET, one HDEL and one HSET of the sums,
-- done even when the call is then refused), so steady traffic costs one
-- HMGET and one HSET per limiter and request.
--
-- Only scopes with a limit are counted: a limit set on a key, user, account
-- or the gateway counts from the moment it is set (its window starts empty).
--
-- In flight: a counter `inflight` in the key's and the user's hash, raised by
-- admit and lowered by settle, or by the sweep when the request's lease
-- expired (its node died). Only a limited key or user is counted; the hold
-- remembers which were, so settle and sweep lower exactly those.
--
-- Scopes: key, user, acct, and global with id "all".

local AH_WINDOW_MS = 60000
local AH_WINDOW_SECS = 61

local function lim_key(scope, id) return 'ah:lim:' .. scope .. ':' .. id end

-- Open limiter (scope, id) at now_s: drop the buckets that left the window
-- and return its state {key, now_s, rs, ts, tr, o, cs, cr, ct, ...}.
-- Dropping writes; counting is lim_add's.
local function lim_open(scope, id, now_s)
  local key = lim_key(scope, id)
  local f = redis.call('HMGET', key, 'rs', 'ts', 'tr', 'o', 'cs', 'cr', 'ct')
  local L = {key = key, now_s = now_s, rs = tonumber(f[1]) or 0, ts = tonumber(f[2]) or 0,
    tr = tonumber(f[3]), o = tonumber(f[4]), cs = tonumber(f[5]), cr = tonumber(f[6]) or 0, ct = tonumber(f[7]) or 0}
  L.tr0, L.o0 = L.tr, L.o
  local target = now_s - AH_WINDOW_SECS
  if L.tr ~= nil and L.tr >= target then return L end
  if L.tr == nil or target - L.tr >= AH_WINDOW_SECS or (L.cs ~= nil and L.cs <= target) then
    -- new, expired, or every bucket (the newest too) has left: nothing counts
    if L.tr ~= nil then redis.call('DEL', key) end
    L.tr, L.rs, L.ts, L.o, L.cs, L.cr, L.ct = target, 0, 0, nil, nil, 0, 0
    L.tr0, L.o0 = nil, nil
    return L
  end
  -- the older buckets of the seconds tr+1 .. target leave (the newest stays)
  local fields = {}
  for s = L.tr + 1, target do
    local sec = ah_sec_text(s)
    fields[#fields + 1] = 'r' .. sec
    fields[#fields + 1] = 't' .. sec
  end
  local old = redis.call('HMGET', key, unpack(fields))
  local gone = {}
  for i = 1, #fields, 2 do
    if old[i] or old[i + 1] then
      L.rs = L.rs - (tonumber(old[i]) or 0)
      L.ts = L.ts - (tonumber(old[i + 1]) or 0)
      gone[#gone + 1] = fields[i]
      gone[#gone + 1] = fields[i + 1]
    end
  end
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
  L.tr = target
  if L.o ~= nil and L.o <= target then
    -- the oldest bucket left: the next one is an older bucket before cs, or cs
    L.o = L.cs
    for s = target + 1, (L.cs or now_s + 1) - 1 do
      if redis.call('HEXISTS', key, 'r' .. ah_sec_text(s)) == 1 then L.o = s; break end
    end
  end
  if L.o == nil then L.rs, L.ts = 0, 0 end
  if #gone > 0 then
    -- the sums must match the buckets left even when no lim_add follows (a
    -- refusal): else the dropped buckets would stay counted in rs/ts
    if L.o == nil then
      redis.call('DEL', key)
      L.tr0, L.o0 = nil, nil
    else
      redis.call('HSET', key, 'rs', ah_int_str(L.rs), 'ts', ah_int_str(L.ts), 'tr', ah_int_str(L.tr),
        'o', ah_int_str(L.o))
      L.tr0, L.o0 = L.tr, L.o
    end
  end
  return L
end

-- The buckets of the window, oldest first, as {second, requests, tokens}.
-- Read only to compute how long a refused caller must wait.
local function lim_buckets(L)
  local out = {}
  if L.o == nil or L.cs == nil then return out end
  if L.o < L.cs then
    local fields = {}
    for s = L.o, L.cs - 1 do
      local sec = ah_sec_text(s)
      fields[#fields + 1] = 'r' .. sec
      fields[#fields + 1] = 't' .. sec
    end
    local v = redis.call('HMGET', L.key, unpack(fields))
    for i = 1, #fields, 2 do
      if v[i] then out[#out + 1] = {L.o + (i - 1) / 2, tonumber(v[i]) or 0, tonumber(v[i + 1]) or 0} end
    end
  end
  out[#out + 1] = {L.cs, L.cr, L.ct}
  return out
end

-- ms from now_ms until the oldest bucket leaves the window (for an empty
-- window, the bucket of this second, which the request being admitted will
-- open): the "reset" of the rate-limit headers.
local function lim_reset_ms(L, now_ms)
  if L.o == nil then return (L.now_s + AH_WINDOW_SECS) * 1000 - now_ms end
  return (L.o + AH_WINDOW_SECS) * 1000 - now_ms
end

-- Can `amount` more be counted in the sums (field 2 = requests, 3 = tokens)
-- under `limit` (0 = none)? Returns ok, remaining after it (-1 when
-- unlimited), and ms until there is room (refused) or the reset (ok).
local function lim_check(L, which, limit, amount, now_ms)
  if limit <= 0 then return true, -1, 0 end
  local sum = which == 2 and L.rs or L.ts
  if sum + amount <= limit then return true, limit - sum - amount, lim_reset_ms(L, now_ms) end
  if amount > limit then return false, 0, AH_WINDOW_MS end
  -- buckets leave oldest first: wait until enough have left
  local left = sum
  for _, b in ipairs(lim_buckets(L)) do
    left = left - b[which]
    if left + amount <= limit then return false, 0, (b[1] + AH_WINDOW_SECS) * 1000 - now_ms end
  end
  return false, 0, AH_WINDOW_MS
end

-- RPM: one more request under `limit`? TPM: `tokens` more under `limit`?
local function lim_rpm_check(L, limit, now_ms) return lim_check(L, 2, limit, 1, now_ms) end
local function lim_tpm_check(L, limit, tokens, now_ms) return lim_check(L, 3, limit, tokens, now_ms) end

-- Count one request of `tokens` tokens in the current second of L.
local function lim_add(L, tokens)
  local s = L.now_s
  L.rs, L.ts = L.rs + 1, L.ts + tokens
  local args = {'HSET', L.key, 'rs', ah_int_str(L.rs), 'ts', ah_int_str(L.ts)}
  local new_bucket = L.cs ~= s
  if new_bucket then
    if L.cs ~= nil then
      -- the newest bucket so far becomes an older one, at the back
      local sec = ah_sec_text(L.cs)
      args[#args + 1] = 'r' .. sec; args[#args + 1] = ah_int_str(L.cr)
      args[#args + 1] = 't' .. sec; args[#args + 1] = ah_int_str(L.ct)
    end
    L.cs, L.cr, L.ct = s, 1, tokens
    args[#args + 1] = 'cs'; args[#args + 1] = ah_sec_text(s)
  else
    L.cr, L.ct = L.cr + 1, L.ct + tokens
  end
  args[#args + 1] = 'cr'; args[#args + 1] = ah_int_str(L.cr)
  args[#args + 1] = 'ct'; args[#args + 1] = ah_int_str(L.ct)
  if L.o == nil then L.o = s end
  -- tr and o only when they moved (most calls in a busy second: never)
  if L.tr ~= L.tr0 then args[#args + 1] = 'tr'; args[#args + 1] = ah_int_str(L.tr) end
  if L.o ~= L.o0 then args[#args + 1] = 'o'; args[#args + 1] = ah_int_str(L.o) end
  L.tr0, L.o0 = L.tr, L.o
  redis.call(unpack(args))
  -- the newest bucket leaves 61 s after its second began: keep the hash that long
  if new_bucket then redis.call('EXPIRE', L.key, AH_WINDOW_SECS + 2) end
end

-- TPM correction at settlement: tokens counted at admission in second `sec`
-- become `delta` more (or less), while that bucket is still in the window.
local function lim_tpm_correct(scope, id, sec, delta)
  if delta == 0 or sec == nil then return end
  local key = lim_key(scope, id)
  local f = redis.call('HMGET', key, 'tr', 'cs', 'ct', 'ts')
  local tr = tonumber(f[1])
  if tr == nil or sec <= tr then return end
  local field, v = 'ct', tonumber(f[3])
  if tonumber(f[2]) ~= sec then
    field = 't' .. ah_sec_text(sec)
    v = tonumber(redis.call('HGET', key, field))
  end
  if v == nil then return end
  -- a bucket never goes below 0, and the sum moves by what the bucket moved
  local nv = math.max(v + delta, 0)
  redis.call('HSET', key, field, ah_int_str(nv), 'ts', ah_int_str((tonumber(f[4]) or 0) + nv - v))
end

-- Calendar day and hour (UTC) of a Unix second, without os.date (not
-- available to scripts): returns "YYYYMMDD", "YYYYMMDDHH", "YYYYMM".
local function cal_ids(now_s)
  local days = math.floor(now_s / 86400)
  local hour = math.floor((now_s % 86400) / 3600)
  -- civil-from-days (H. Hinnant)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  local day = string.format('%04d%02d%02d', y, m, d)
  return day, day .. string.format('%02d', hour), string.format('%04d%02d', y, m)
end
