-- lib/limits.lua: rate limits, in-flight leases and calendar helpers.
-- Local functions only (see lib/common.lua).
--
-- RPM is an exact sliding window: a ZSET per limiter whose members are the
-- admitted requests scored by their admission time in ms; a request is
-- admitted when fewer than N members are younger than 60 s, so no 60-second
-- window ever holds more than N. A burst of N at once is allowed.
--
-- TPM is a window of 1-second buckets: a HASH per limiter, field = Unix
-- second, value = tokens. The sum covers the current second and the 60
-- before it (61 buckets), which over-counts by up to one second and so can
-- only refuse early, never let more than N through in 60 s.
--
-- In flight: a ZSET per key and per user whose members are request leases
-- scored by their expiry in ms; expired leases (a node died) free their slot.
--
-- Key names: ah:rpm:<scope>:<id>, ah:tpm:<scope>:<id>, ah:inflight:<scope>:<id>
-- with scope key, user, acct or global (id "all").

local AH_WINDOW_MS = 60000

-- Limiter key names.
local function lim_rpm_key(scope, id) return 'ah:rpm:' .. scope .. ':' .. id end
local function lim_tpm_key(scope, id) return 'ah:tpm:' .. scope .. ':' .. id end
local function lim_inflight_key(scope, id) return 'ah:inflight:' .. scope .. ':' .. id end

-- RPM: can one more request be admitted at now_ms under `limit` (0 = none)?
-- Returns ok, remaining after admission (-1 when unlimited), ms until the
-- window has room again (when refused) or until it is empty (reset).
local function lim_rpm_check(key, limit, now_ms)
  if limit <= 0 then return true, -1, 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - AH_WINDOW_MS)
  local count = redis.call('ZCARD', key)
  if count < limit then
    local reset = 0
    if count > 0 then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      reset = tonumber(oldest[2]) + AH_WINDOW_MS - now_ms
    else
      reset = AH_WINDOW_MS
    end
    return true, limit - count - 1, reset
  end
  -- the (count - limit + 1)-th oldest must leave the window first
  local nth = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return false, 0, tonumber(nth[2]) + AH_WINDOW_MS - now_ms + 1
end

-- Adding trims the window too: a scope without a limit is never checked, and
-- steady traffic would otherwise keep its key alive and growing.
local function lim_rpm_add(key, member, now_ms)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - AH_WINDOW_MS)
  redis.call('ZADD', key, now_ms, member)
  redis.call('PEXPIRE', key, AH_WINDOW_MS + 1000)
end

-- TPM: the tokens counted in the window at now_s, dropping old buckets.
-- Returns the sum and the buckets as a list of {second, tokens}, oldest first.
local function lim_tpm_window(key, now_s)
  local flat = redis.call('HGETALL', key)
  local sum, buckets, old = 0, {}, {}
  for i = 1, #flat, 2 do
    local sec = tonumber(flat[i])
    local v = tonumber(flat[i + 1]) or 0
    if sec == nil or sec < now_s - 60 then
      old[#old + 1] = flat[i]
    else
      sum = sum + v
      buckets[#buckets + 1] = {sec, v}
    end
  end
  if #old > 0 then redis.call('HDEL', key, unpack(old)) end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  return sum, buckets
end

-- TPM: can `tokens` more be admitted under `limit` (0 = none)?
-- Returns ok, remaining after admission (-1 when unlimited), ms until there
-- is room (when refused) or until the window empties (reset).
local function lim_tpm_check(key, limit, tokens, now_s, now_ms)
  if limit <= 0 then return true, -1, 0 end
  local sum, buckets = lim_tpm_window(key, now_s)
  if sum + tokens <= limit then
    local reset = AH_WINDOW_MS
    if #buckets > 0 then reset = (buckets[1][1] + 61) * 1000 - now_ms end
    return true, limit - sum - tokens, reset
  end
  if tokens > limit then
    -- larger than the whole budget: no wait makes room; say a full window
    return false, 0, AH_WINDOW_MS
  end
  -- buckets leave the window oldest first: wait until enough have left
  local left = sum
  for _, b in ipairs(buckets) do
    left = left - b[2]
    if left + tokens <= limit then
      return false, 0, (b[1] + 61) * 1000 - now_ms
    end
  end
  return false, 0, AH_WINDOW_MS
end

local function lim_tpm_add(key, sec, tokens)
  if tokens == 0 then return end
  redis.call('HINCRBY', key, ah_int_str(sec), tokens)
  redis.call('EXPIRE', key, 62)
  -- more than 61 buckets: some have left the window (see lim_rpm_add)
  if redis.call('HLEN', key) > 61 then lim_tpm_window(key, sec) end
end

-- TPM correction at settlement: only while the admission's bucket is still in
-- the window (afterwards it no longer counts).
local function lim_tpm_correct(key, sec, delta)
  if delta == 0 or sec == nil then return end
  if redis.call('HEXISTS', key, ah_int_str(sec)) == 1 then
    redis.call('HINCRBY', key, ah_int_str(sec), delta)
  end
end

-- In flight: is there a free slot under `limit` (0 = none)?
local function lim_inflight_check(key, limit, now_ms)
  if limit <= 0 then return true end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
  return redis.call('ZCARD', key) < limit
end

local function lim_inflight_add(key, lease, expiry_ms, ttl_ms)
  redis.call('ZADD', key, expiry_ms, lease)
  redis.call('PEXPIRE', key, ttl_ms + 60000)
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
