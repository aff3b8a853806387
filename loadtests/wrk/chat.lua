-- Non-streaming chat: one pre-formatted POST /v1/chat/completions with one key (AIHUB_KEY), model MODEL.
-- Counts non-2xx per status and reports them in done() (and a WRK_RESULT json line); MAX_REQUESTS bounds the run.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(dir .. "lib/report.lua")

local req
report.on_init = function()
  req = report.chat_request(report.env("AIHUB_KEY", "sk-bench"), report.chat_body(report.env("MODEL", "mock-gpt"), false))
end

report.check = function(status, headers, body)
  if not body:find('"choices"', 1, true) then return "no_choices" end
end

function request()
  return req
end

report.install()
