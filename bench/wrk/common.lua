-- Shared by every workload script: counts statuses per thread, reads a list of
-- requests from a file, and prints one JSON summary line for bench/load.py.
--
-- Settings come from the environment:
--   BENCH_THREADS  the number of wrk threads (-t), to split an input list between them
--   BENCH_INPUT    a file of requests, one per line: METHOD<TAB>PATH[<TAB>BODY]
--   BENCH_CYCLE    "1": start the list again when it is exhausted (fixed-duration runs);
--                  otherwise each thread stops after its last request was answered and
--                  says so on stdout, so that bench/load.py ends the run (wrk itself would
--                  wait for the whole duration)

local threads = {}
local thread_count = 0

statuses = {}
answered = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_number", thread_count)
   table.insert(threads, thread)
end

-- The base path of the target URL, without a trailing slash ("" for a bare host).
function base_path()
   local path = wrk.path or "/"
   return (path:gsub("/+$", ""))
end

-- This thread's share of the input list, formatted once.
function load_requests()
   local total_threads = tonumber(os.getenv("BENCH_THREADS") or "1")
   local base = base_path()
   local mine = {}
   local index = 0
   for line in io.lines(os.getenv("BENCH_INPUT")) do
      if line ~= "" then
         index = index + 1
         if (index - 1) % total_threads == thread_number - 1 then
            local method, path, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
            if body == "" then body = nil end
            table.insert(mine, wrk.format(method, base .. path, nil, body))
         end
      end
   end
   return mine
end

function count_status(status)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   answered = answered + 1
end

function response(status, headers, body)
   count_status(status)
   if stop_after ~= nil and answered >= stop_after then
      wrk.thread:stop()
      io.write("BENCH-THREAD-DONE\n")
      io.flush()
   end
end

-- Requests taken in turn from the input list (used when a script defines no request()).
function list_request()
   position = position + 1
   if position > #requests then
      position = 1
   end
   return requests[position]
end

function list_init()
   requests = load_requests()
   position = 0
   if os.getenv("BENCH_CYCLE") ~= "1" then
      stop_after = #requests
   end
end

local function json_statuses(all)
   local parts = {}
   for status, count in pairs(all) do
      table.insert(parts, string.format('"%s":%d', status, count))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests_made)
   local all = {}
   for _, thread in ipairs(threads) do
      local counted = thread:get("statuses") or {}
      for status, count in pairs(counted) do
         all[status] = (all[status] or 0) + count
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH-RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"statuses":%s,"connect_errors":%d,"read_errors":%d,' ..
      '"write_errors":%d,"timeouts":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, json_statuses(all), errors.connect, errors.read, errors.write,
      errors.timeout))
end
