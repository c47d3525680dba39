-- wrk script: client-credentials token requests (client_secret_basic).
--   wrk -t2 -c8 -d15s -s bench/lua/client_credentials.lua URL -- <token path> "Basic <base64(id:secret)>"
-- Every response is checked: 200 and a body with "access_token"; anything else counts as an error.
-- done() prints one line "BENCHJSON {...}" that bench/run.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

ok, bad, first_bad = 0, 0, ""
local req

function init(args)
  local path, authorization = args[1], args[2]
  req = wrk.format("POST", path, {
    ["Authorization"] = authorization,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
  }, "grant_type=client_credentials")
end

function request()
  return req
end

function response(status, headers, body)
  if status == 200 and body:find('"access_token"', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(1, 300) end
  end
end

local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local tok, tbad, fb = 0, 0, ""
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    local f = t:get("first_bad")
    if fb == "" and f ~= "" then fb = f end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "status_errors": %d, "lat_p50_us": %d, "lat_p99_us": %d, "first_bad": %s}\n',
    summary.requests, summary.duration, tok, tbad, e.connect + e.read + e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), jstr(fb)))
end
