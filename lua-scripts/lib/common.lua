-- lib/common.lua: helpers every script shares.
--
-- The files in lua-scripts/lib/ are concatenated byte for byte, in file-name
-- order, and put in front of each script before SCRIPT LOAD (the node and the
-- tests build scripts the same way). So this file defines local functions and
-- constants only: loading it runs no Redis command and writes nothing.
--
-- Lua numbers are doubles: every count, amount and time here is kept integral
-- and below 2^53, written to Redis with ah_int_str (never tostring, which
-- switches to exponent notation past 14 digits) and returned to the caller as
-- an integer, or as a string when it may be fractional.

-- Prefix of the runtime hash of a provider account.
local AH_ACCT_PREFIX = 'ah:acct:'

-- Raise a script error: the caller receives "ERR aihub: <msg>". Used only for
-- malformed calls (a bug in the caller), never for an ordinary refusal.
local function ah_fail(msg)
  error({err = 'ERR aihub: ' .. msg})
end

-- Parse a decimal integer given as a string ("-12", "300"); `what` names the
-- argument in the error message. Accepts at most 15 digits (below 2^53).
local function ah_int(v, what)
  local digits = type(v) == 'string' and string.match(v, '^%-?(%d+)$')
  if not digits or #digits > 15 then
    ah_fail(what .. ' must be a decimal integer, got ' .. tostring(v))
  end
  return tonumber(v)
end

-- An integral Lua number as a decimal string, for HSET/SET.
local function ah_int_str(n)
  return string.format('%d', n)
end

-- A unix second as decimal text, remembered for the last second asked (the
-- script's own, set by ah_now): field names such as "r<sec>" are built from
-- it many times per call, and a number-to-text conversion is not free.
local ah_sec_n, ah_sec_s = nil, nil
local function ah_sec_text(n)
  if n ~= ah_sec_n then ah_sec_n, ah_sec_s = n, string.format('%d', n) end
  return ah_sec_s
end

-- The server's clock, read once per script: unix seconds and milliseconds.
local function ah_now()
  local t = redis.call('TIME')
  local s = tonumber(t[1])
  ah_sec_n, ah_sec_s = s, t[1]
  return s, s * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Fail unless the script got exactly the number of KEYS and ARGV it expects.
local function ah_expect_counts(script, nkeys, nargv)
  if #KEYS ~= nkeys then
    ah_fail(script .. ': expected ' .. nkeys .. ' KEYS, got ' .. #KEYS)
  end
  if #ARGV ~= nargv then
    ah_fail(script .. ': expected ' .. nargv .. ' ARGV, got ' .. #ARGV)
  end
end
