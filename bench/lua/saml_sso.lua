-- wrk script: SP-initiated SAML SSO (HTTP-Redirect AuthnRequest) for a user with an existing session.
--   wrk -t N -c M -d 10s -s bench/lua/saml_sso.lua URL -- "<Cookie header>" <paths file prefix>
-- Thread i reads "<prefix>.<i>": one pre-built request path a line, each with a fresh AuthnRequest
-- ID (the replay cache refuses a reused one). When a thread runs out of paths it stops.
-- A response counts as good when it is a 200 carrying the auto-submit SAMLResponse form.
-- done() prints "BENCHJSON {...}".

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

ok, bad, exhausted = 0, 0, 0
first_bad = ""

local cookie
local paths, next_path = {}, 1

function init(args)
  cookie = args[1]
  local f = assert(io.open(args[2] .. "." .. tid, "r"))
  for line in f:lines() do
    if #line > 0 then table.insert(paths, line) end
  end
  f:close()
end

function request()
  if next_path > #paths then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz", {}, nil)
  end
  local path = paths[next_path]
  next_path = next_path + 1
  return wrk.format("GET", path, { ["Cookie"] = cookie }, nil)
end

function response(status, headers, body)
  if exhausted == 1 then return end
  if status == 200 and body:find('name="SAMLResponse"', 1, true) then
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
  local t_ok, t_bad, ex, fb = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok")
    t_bad = t_bad + t:get("bad")
    ex = ex + t:get("exhausted")
    local f = t:get("first_bad")
    if fb == "" and f ~= "" then fb = f end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "threads_out_of_paths": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "status_errors": %d, "lat_p50_us": %d, "lat_p99_us": %d, ' ..
    '"first_bad": %s}\n',
    t_ok + t_bad, summary.duration, t_ok, t_bad, ex, e.connect + e.read + e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), jstr(fb)))
end
