-- Prints one machine-readable line when wrk finishes: bench/bench.py reads it.
-- Used alone for plain GETs (wrk -s summary.lua, request headers with -H), and by refresh.lua.
-- Latencies are in microseconds, as wrk records them.

local counters = {}
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Scripts that count things per thread (refresh.lua) name the globals to add up here.
function summary_counters(names)
   counters = names
end

function done(summary, latency, requests)
   local e = summary.errors
   local extra = {}
   for _, name in ipairs(counters) do
      local total = 0
      for _, thread in ipairs(threads) do
         total = total + (thread:get(name) or 0)
      end
      table.insert(extra, string.format(',"%s":%d', name, total))
   end
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"mean_us":%.1f,"max_us":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"status_errors":%d,"timeouts":%d%s}\n',
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout,
      table.concat(extra)))
end
