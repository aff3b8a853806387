-- Failure mix: FAIL_SHARE percent of requests ask FAIL_MODEL (a channel whose accounts the mock makes answer 429/5xx),
-- the rest ask MODEL (a pool where some accounts fail and the gateway fails over); non-2xx per status reported in done().
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(dir .. "lib/report.lua")

local good, bad, share, k
report.on_init = function()
  local key = report.env("AIHUB_KEY", "sk-bench")
  good = report.chat_request(key, report.chat_body(report.env("MODEL", "mock-gpt"), false))
  bad = report.chat_request(key, report.chat_body(report.env("FAIL_MODEL", "mock-flaky"), false))
  share = report.env_number("FAIL_SHARE", 10)
  if share < 0 or share > 100 then error("FAIL_SHARE must be 0-100") end
  k = thread_index
end

-- deterministic interleaving: out of every 100 requests, `share` go to FAIL_MODEL, spread evenly
function request()
  k = k + 1
  if math.floor(k * share / 100) ~= math.floor((k - 1) * share / 100) then
    return bad
  end
  return good
end

report.install()
