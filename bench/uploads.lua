-- bench/uploads.lua - wrk script for bench/uploads.sh: POSTs the multipart body in
-- $BENCH_BODY (Content-Type $BENCH_TYPE) with `Authorization: Bearer $BENCH_AUTH`, and prints
-- the BENCH line of bench/report.lua.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_AUTH")

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f" ..
      " errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
