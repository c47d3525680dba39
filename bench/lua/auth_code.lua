-- wrk script: authorization-code exchange (PKCE S256, client_secret_basic), then a userinfo GET
-- with the access token just issued; then the next code. One connection per thread (-t N -c N),
-- so each thread walks its own state machine and its own list of single-use codes.
--   wrk -t2 -c2 -d15s -s bench/lua/auth_code.lua URL -- <token path> <userinfo path>
--       "Basic <base64(id:secret)>" <redirect_uri> <codes file prefix>
-- Thread i reads "<prefix>.<i>" (one "code verifier" pair a line). When a thread runs out of
-- codes it stops (and says so in the report). done() prints "BENCHJSON {...}".

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

ok_token, bad_token, ok_userinfo, bad_userinfo, exhausted = 0, 0, 0, 0, 0
first_bad = ""

local token_path, userinfo_path, authorization, redirect_uri
local codes, next_code = {}, 1
local access_token = nil

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(args)
  token_path, userinfo_path, authorization, redirect_uri = args[1], args[2], args[3], args[4]
  local f = assert(io.open(args[5] .. "." .. tid, "r"))
  for line in f:lines() do
    local code, verifier = line:match("^(%S+)%s+(%S+)$")
    if code then table.insert(codes, { code, verifier }) end
  end
  f:close()
  redirect_uri = urlencode(redirect_uri)
end

local function token_request()
  local pair = codes[next_code]
  next_code = next_code + 1
  local body = "grant_type=authorization_code&code=" .. urlencode(pair[1]) ..
    "&code_verifier=" .. urlencode(pair[2]) .. "&redirect_uri=" .. redirect_uri
  return wrk.format("POST", token_path, {
    ["Authorization"] = authorization,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/json",
  }, body)
end

function request()
  if access_token then
    local req = wrk.format("GET", userinfo_path, {
      ["Authorization"] = "Bearer " .. access_token,
      ["Accept"] = "application/json",
    }, nil)
    return req
  end
  if next_code > #codes then
    -- Out of codes: stop this thread. wrk still wants a request string; send a cheap one that
    -- is never counted (the loop stops before or right after it).
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", userinfo_path, {}, nil)
  end
  return token_request()
end

local function note_bad(status, body)
  if first_bad == "" then first_bad = status .. " " .. body:sub(1, 300) end
end

function response(status, headers, body)
  if exhausted == 1 then return end
  if access_token then
    access_token = nil
    if status == 200 and body:find('"sub"', 1, true) then
      ok_userinfo = ok_userinfo + 1
    else
      bad_userinfo = bad_userinfo + 1
      note_bad("userinfo " .. status, body)
    end
    return
  end
  local at = status == 200 and body:match('"access_token"%s*:%s*"([^"]+)"')
  if at then
    ok_token = ok_token + 1
    access_token = at
  else
    bad_token = bad_token + 1
    note_bad("token " .. status, body)
  end
end

local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local t_ok, t_bad, u_ok, u_bad, ex, fb = 0, 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok_token")
    t_bad = t_bad + t:get("bad_token")
    u_ok = u_ok + t:get("ok_userinfo")
    u_bad = u_bad + t:get("bad_userinfo")
    ex = ex + t:get("exhausted")
    local f = t:get("first_bad")
    if fb == "" and f ~= "" then fb = f end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "ok": %d, "bad": %d, "ok_token": %d, "bad_token": %d, ' ..
    '"ok_userinfo": %d, "bad_userinfo": %d, "threads_out_of_codes": %d, "socket_errors": %d, "timeouts": %d, ' ..
    '"status_errors": %d, "lat_p50_us": %d, "lat_p99_us": %d, "first_bad": %s}\n',
    summary.requests, summary.duration, t_ok + u_ok, t_bad + u_bad, t_ok, t_bad, u_ok, u_bad, ex,
    e.connect + e.read + e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), jstr(fb)))
end
