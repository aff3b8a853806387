-- Traffic spread over many keys and users: KEYS_FILE has one API key per line; each request takes the next key.
-- Every thread starts at its own offset; requests are formatted once per key. Non-2xx counted and reported in done().
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local report = dofile(dir .. "lib/report.lua")

local reqs, n, i = {}, 0, 0
report.on_init = function()
  local file = report.env("KEYS_FILE", nil)
  if not file then error("many_keys.lua needs KEYS_FILE (one API key per line)") end
  local body = report.chat_body(report.env("MODEL", "mock-gpt"), report.env("STREAM", "0") == "1")
  for line in io.lines(file) do
    local key = line:match("^%s*(%S+)%s*$")
    if key then
      n = n + 1
      reqs[n] = report.chat_request(key, body)
    end
  end
  if n == 0 then error("KEYS_FILE " .. file .. " has no keys") end
  i = (thread_index * 7919) % n -- spread the threads' starting points
end

function request()
  i = i % n + 1
  return reqs[i]
end

report.install()
