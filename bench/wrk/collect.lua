-- wrk script of `shoal bench collect` (bench/collect_bench.cc, which builds this file in and
-- passes the arguments): each request POSTs `batch` NDJSON events to /collect/json/<stream>.
-- The users are drawn from `ids` ids by a zipf law of exponent `s`: every thread inverts the
-- CDF once, in init(), into a table of `draws` samples (seeded with seed + thread index), and
-- the requests walk that table. done() prints "shoal-collect <name> <value>" lines.
--
-- wrk -s collect.lua URL -- <token> <stream> <seed> <ids> <s> <draws> <batch>

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local kEvents = {"view", "view", "view", "click", "click", "purchase", "signup"}
local kPlans = {"free", "basic", "pro", "team"}
local kCountries = {"US", "DE", "FR", "GB", "JP", "BR", "IN", "CA"}

local draws = {}
local draw_count = 0
local cursor = 0
local batch = 10
local lines = {}

function init(args)
  if #args < 7 then
    error("collect.lua needs: token stream seed ids s draws batch")
  end
  local token, stream = args[1], args[2]
  local seed = tonumber(args[3]) + (thread_index or 0)
  local ids, s = tonumber(args[4]), tonumber(args[5])
  draw_count, batch = tonumber(args[6]), tonumber(args[7])
  math.randomseed(seed)
  local cdf, sum = {}, 0
  for k = 1, ids do
    sum = sum + k ^ (-s)
    cdf[k] = sum
  end
  for i = 1, draw_count do
    local u = math.random() * sum
    local lo, hi = 1, ids
    while lo < hi do  -- first rank whose cumulative weight reaches u
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    draws[i] = lo - 1
  end
  wrk.method = "POST"
  wrk.path = "/collect/json/" .. stream
  wrk.headers["Authorization"] = token
  wrk.headers["Content-Type"] = "application/x-ndjson"
end

-- The engine bench's event shape (bench/engine_bench.cc), without a timestamp: the server's
-- clock stamps it.
local function event_line(user)
  local event = kEvents[math.random(7)]
  local line = '{"user_id":"u' .. user .. '","event":"' .. event .. '","plan":"' ..
      kPlans[user % 4 + 1] .. '","country":"' .. kCountries[user % 8 + 1] .. '","age":' ..
      (18 + user % 50)
  if user % 3 == 0 then
    line = line .. ',"email":"user' .. user ..
        (user % 2 == 1 and '@example.com"' or '@mail.test"')
  end
  if event == "purchase" then
    line = line .. ',"amount":' .. (5 + math.random(0, 199))
  end
  return line .. "}"
end

function request()
  for i = 1, batch do
    cursor = cursor + 1
    if cursor > draw_count then cursor = 1 end
    lines[i] = event_line(draws[cursor])
  end
  return wrk.format(nil, nil, nil, table.concat(lines, "\n", 1, batch))
end

function done(summary, latency, requests)
  local function out(name, value)
    io.write(string.format("shoal-collect %s %.0f\n", name, value))
  end
  out("requests", summary.requests)
  out("duration_us", summary.duration)
  out("bytes", summary.bytes)
  out("errors_connect", summary.errors.connect)
  out("errors_read", summary.errors.read)
  out("errors_write", summary.errors.write)
  out("errors_status", summary.errors.status)
  out("errors_timeout", summary.errors.timeout)
  out("latency_p50_us", latency:percentile(50))
  out("latency_p90_us", latency:percentile(90))
  out("latency_p99_us", latency:percentile(99))
  out("latency_p999_us", latency:percentile(99.9))
  out("latency_max_us", latency.max)
end
