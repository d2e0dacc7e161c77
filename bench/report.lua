-- bench/report.lua - wrk script used by bench/run.sh for every target.
--
-- Plain GETs of the URL given to wrk; when BENCH_AUTH is set in the environment, each request
-- carries `Authorization: Bearer $BENCH_AUTH`. At the end prints one machine-readable line that
-- run.sh parses:
--   BENCH requests=N duration_us=N rps=F p50_us=F p90_us=F p99_us=F max_us=F errors_connect=N
--         errors_read=N errors_write=N errors_status=N errors_timeout=N
-- Latencies are in microseconds, from wrk's own latency histogram. errors_status counts
-- responses that were not 2xx/3xx.

local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. auth
end

done = function(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f" ..
      " errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
