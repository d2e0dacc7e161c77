-- webhooks.lua - wrk script for bench/webhooks.sh: every request posts the next pre-signed
-- event from $EVENTS_FILE ("signature<TAB>body" lines). Thread i (of $WRK_THREADS) takes
-- lines i, i+T, i+2T... so that no event id is sent twice.
local counter = 0

function setup(thread)          -- main Lua state: number the threads
   thread:set("tid", counter)
   counter = counter + 1
end

function init(args)             -- each thread's own state
   step = tonumber(os.getenv("WRK_THREADS") or "1")
   events = {}
   local f = assert(io.open(os.getenv("EVENTS_FILE"), "r"))
   for line in f:lines() do
      local sig, body = line:match("^([^\t]+)\t(.*)$")
      events[#events + 1] = {sig, body}
   end
   f:close()
   idx = tid + 1
end

function request()
   local e = events[idx]
   if e == nil then error("bench/webhooks.lua: out of pre-signed events") end
   idx = idx + step
   return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                   ["Stripe-Signature"] = e[1]}, e[2])
end
