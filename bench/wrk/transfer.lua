-- transfer.lua — wrk script for bench/run: POST /transfer between random pairs
-- of bench accounts, each request with its own Idempotency-Key.
--
-- Environment (set by bench/run):
--   BENCH_ACCOUNTS  file of "n id token" lines (written by the setup step)
--   BENCH_FIRST, BENCH_LAST  the range of n to pick from: 1..10000 for
--                   transfer-uniform, 10001..10002 (both directions) for
--                   transfer-hotspot
--   BENCH_RUN       a run id; keys are "<run>-<thread>-<counter>", unique
--   BENCH_OUT       where done() writes its JSON summary
--   BENCH_LIMIT     optional: each thread stops after this many responses
--                   (the memory scenario's fixed request count)
--   BENCH_AMOUNT    optional: minor units per transfer (default 1)
--
-- The token is the payer's own (a user moves only their own money); the memo
-- is "bench" (bench/sql/transfer-*.sql passes the same memo to pgbench).

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   local first = tonumber(os.getenv("BENCH_FIRST") or "1")
   local last = tonumber(os.getenv("BENCH_LAST") or "10000")
   ids, tokens = {}, {}
   for line in io.lines(os.getenv("BENCH_ACCOUNTS")) do
      local n, id, tok = line:match("^(%d+) (%S+) (%S+)$")
      n = tonumber(n)
      if n and n >= first and n <= last then
         ids[#ids + 1] = id
         tokens[#tokens + 1] = tok
      end
   end
   nacc = #ids
   if nacc < 2 then
      error("transfer.lua: fewer than two accounts in range " .. first .. ".." .. last)
   end
   run = os.getenv("BENCH_RUN") or tostring(os.time())
   limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
   amount = tonumber(os.getenv("BENCH_AMOUNT") or "1")
   counter = 0
   responses = 0
   statuses = {}
   math.randomseed(os.time() * 1000 + tid * 7919)
end

function request()
   counter = counter + 1
   local a = math.random(nacc)
   local b = math.random(nacc - 1)
   if b >= a then b = b + 1 end
   local body = '{"from":"' .. ids[a] .. '","to":"' .. ids[b] ..
      '","amount":' .. amount .. ',"memo":"bench"}'
   return wrk.format("POST", "/transfer", {
      ["Authorization"] = "Bearer " .. tokens[a],
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter,
   }, body)
end

function response(status, headers, body)
   local k = tostring(status)
   statuses[k] = (statuses[k] or 0) + 1
   responses = responses + 1
   if limit > 0 and responses >= limit then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local agg = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses") or {}
      for k, v in pairs(s) do agg[k] = (agg[k] or 0) + v end
   end
   local parts = {}
   for k, v in pairs(agg) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
   local e = summary.errors
   local out = string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
      '"p50":%d,"p90":%d,"p99":%d,"p999":%d},"statuses":{%s}}',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), table.concat(parts, ","))
   local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
   f:write(out, "\n")
   f:close()
end
