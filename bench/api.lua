-- wrk script for bench/api.py: POSTs to /api/v2 and counts what came back.
--
--   wrk -t2 -c32 -d10s -s bench/api.lua http://127.0.0.1:8000/api/v2 -- static 'key=K&action=balance'
--   wrk -t2 -c32 -d10s -s bench/api.lua http://127.0.0.1:8000/api/v2 -- add K SERVICE QUANTITY NONCE
--
-- "static" sends the same form body every time. "add" places an order whose
-- link is unique per request (nonce / wrk thread / per-thread counter), so the
-- one-active-order-per-link rule never rejects one.
--
-- At the end one line is printed, for bench/api.py to parse:
--   BENCH_RESULT {"requests":…,"duration_us":…,"p50_us":…,"p99_us":…,…}
-- api_errors counts bodies containing "error" (the API answers errors with HTTP
-- 200 and {"error": …}); orders counts bodies containing "order" and no error.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
   mode = args[1] or "static"
   api_errors, orders, non200, responses = 0, 0, 0, 0
   counter = 0
   headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
   if mode == "add" then
      prefix = "key=" .. urlencode(args[2]) .. "&action=add&service=" .. args[3]
         .. "&quantity=" .. args[4] .. "&link="
      link_base = "https://example.com/bench/" .. args[5] .. "/" .. tid .. "/"
   else
      static_req = wrk.format("POST", nil, headers, args[2] or "")
   end
end

function request()
   if mode ~= "add" then
      return static_req
   end
   counter = counter + 1
   return wrk.format("POST", nil, headers, prefix .. urlencode(link_base .. counter))
end

function response(status, hdrs, body)
   responses = responses + 1
   if status ~= 200 then
      non200 = non200 + 1
   end
   if body:find('"error"', 1, true) then
      api_errors = api_errors + 1
   elseif body:find('"order"', 1, true) then
      orders = orders + 1
   end
end

function done(summary, latency, requests)
   local t = { api_errors = 0, orders = 0, non200 = 0, responses = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (thread:get(k) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"mean_us":%.1f,"max_us":%d,"responses":%d,"non200":%d,"api_errors":%d,"orders":%d,'
         .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.mean, latency.max, t.responses, t.non200, t.api_errors,
      t.orders, e.connect, e.read, e.write, e.timeout, e.status))
end
