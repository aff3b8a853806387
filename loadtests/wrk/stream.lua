-- Streaming chat ("stream": true, SSE): wrk's latency is the whole stream; a 2xx without "data: [DONE]" is a failure.
-- Counts non-2xx per status and incomplete streams, reports them in done(); key AIHUB_KEY, model MODEL, MAX_REQUESTS.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(dir .. "lib/report.lua")

local req
report.on_init = function()
  req = report.chat_request(report.env("AIHUB_KEY", "sk-bench"), report.chat_body(report.env("MODEL", "mock-gpt"), true))
end

report.check = function(status, headers, body)
  if not body:find("data: [DONE]", 1, true) then return "stream_without_done" end
end

function request()
  return req
end

report.install()
