-- Shared by the wrk scripts: counts non-2xx responses per status (wrk does not fail on them),
-- bounds a run by requests (MAX_REQUESTS, over all threads) and reports in done().
--
-- A script does:  local report = dofile(script_dir .. "lib/report.lua")
--                 report.install()              -- defines setup/init/response/done
-- then may set report.check(status, headers, body) -> nil or an error class name
-- (counted as a failure even with a 2xx status, e.g. a stream without [DONE]).
--
-- done() prints a human summary and one machine-readable line:
--   WRK_RESULT {"requests":N,"duration_s":S,"rps":R,"non2xx":N,"statuses":{"429":N},"failures":{...},
--               "socket_errors":N,"p50_us":N,"p90_us":N,"p99_us":N,"p999_us":N,"max_us":N,"mean_us":N}

local M = {}

-- Environment, read once per Lua state (the main one and each thread's).
function M.env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

function M.env_number(name, default)
  local v = M.env(name, nil)
  if v == nil then return default end
  local n = tonumber(v)
  if n == nil then error(name .. " must be a number, got '" .. v .. "'") end
  return n
end

-- A JSON string literal (keys, model names and the like: no control characters expected).
function M.json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

-- The chat body every scenario sends: a short prompt, a small max_tokens (so a credit hold is placed
-- and released on every request), streaming or not.
function M.chat_body(model, stream)
  local body = '{"model":' .. M.json_string(model) ..
    ',"messages":[{"role":"system","content":"You are a terse assistant."},' ..
    '{"role":"user","content":"Say hello in eight words."}],"max_tokens":64'
  if stream then
    body = body .. ',"stream":true'
  end
  return body .. "}"
end

-- A complete HTTP request for this key and body, formatted once and reused.
function M.chat_request(key, body)
  return wrk.format("POST", M.env("CHAT_PATH", "/v1/chat/completions"), {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
end

local threads = {}

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local function json_counts(t)
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do
    parts[#parts + 1] = M.json_string(k) .. ":" .. string.format("%d", t[k])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function M.install()
  function setup(thread)
    thread:set("thread_index", #threads)
    threads[#threads + 1] = thread
  end

  function init(args)
    responses = 0
    non2xx = 0
    statuses = {}
    failures = {}
    -- each thread stops after its share of MAX_REQUESTS (0 = bounded by -d only)
    local max = M.env_number("MAX_REQUESTS", 0)
    local n = M.env_number("WRK_THREADS", 1)
    limit = 0
    if max > 0 then
      limit = math.floor(max / n)
      if thread_index < max % n then limit = limit + 1 end
      if limit < 1 then limit = 1 end
    end
    if M.on_init then M.on_init(args) end
  end

  function response(status, headers, body)
    responses = responses + 1
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
      local k = tostring(status)
      statuses[k] = (statuses[k] or 0) + 1
    elseif M.check then
      local why = M.check(status, headers, body)
      if why then failures[why] = (failures[why] or 0) + 1 end
    end
    if limit > 0 and responses >= limit then
      wrk.thread:stop()
    end
  end

  function done(summary, latency, requests)
    local total_non2xx, all_statuses, all_failures, n_failures = 0, {}, {}, 0
    for _, t in ipairs(threads) do
      total_non2xx = total_non2xx + (t:get("non2xx") or 0)
      for k, v in pairs(t:get("statuses") or {}) do all_statuses[k] = (all_statuses[k] or 0) + v end
      for k, v in pairs(t:get("failures") or {}) do
        all_failures[k] = (all_failures[k] or 0) + v
        n_failures = n_failures + v
      end
    end
    local e = summary.errors
    local socket_errors = e.connect + e.read + e.write + e.timeout
    local secs = summary.duration / 1e6
    local rps = 0
    if secs > 0 then rps = summary.requests / secs end
    io.write(string.format("non-2xx responses: %d of %d", total_non2xx, summary.requests))
    for _, k in ipairs(sorted_keys(all_statuses)) do io.write(string.format("  [%s: %d]", k, all_statuses[k])) end
    io.write("\n")
    if n_failures > 0 then
      io.write(string.format("2xx responses failing the script's check: %d", n_failures))
      for _, k in ipairs(sorted_keys(all_failures)) do io.write(string.format("  [%s: %d]", k, all_failures[k])) end
      io.write("\n")
    end
    io.write(string.format(
      'WRK_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.1f,"non2xx":%d,"statuses":%s,"failures":%s,' ..
      '"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, secs, rps, total_non2xx, json_counts(all_statuses), json_counts(all_failures),
      socket_errors, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean))
  end
end

return M
