#!/usr/bin/env bash
# bench/auctions.sh - accepted bids/s and latency of POST /api/bids/ (wrk, loopback, bounded).
#
#   hot:    64 connections, each with its own bidder, on ONE auction (every bid contends for
#           the same row); amounts rise with the clock, so some bids lose the race (409
#           bid_too_low) and the rest are accepted. accepted/s = the auction's bid_count / time.
#   spread: 64 connections over 50 auctions (connection i bids on auction i mod 50).
# On SQLite (a file in a temp dir) and PostgreSQL (SOUK_TEST_PG_URL, else a throwaway cluster).
#
# Usage: bench/auctions.sh [--seconds S] [--write]   (SOUK_BIN, default build/souk; S default 10)
# Prints a Markdown section; --write splices it into bench/RESULTS.md via bench/section.py.
# Every process started here is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD SECONDS_RUN=10 WRITE=0 CONNS=64
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_RUN=$2; shift 2 ;;
        --write) WRITE=1; shift ;;
        *) echo "usage: $0 [--seconds S] [--write]" >&2; exit 2 ;;
    esac
done
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
[ -x "$SOUK_BIN" ] || { echo "bench/auctions.sh: no $SOUK_BIN (run make)" >&2; exit 2; }
unset SVC_DIR SVC_PG_DATA SVC_REDIS_PID
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    [ -n "${BENCH_DB:-}" ] && psql "$SOUK_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1
    [ -n "${WORK:-}" ] && rm -rf "$WORK"
    svc_stop_all
}
trap cleanup EXIT
[ -n "${SOUK_TEST_PG_URL:-}" ] || svc_pg_start >/dev/null
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-auctions.XXXXXX")
BENCH_DB=souk_bench_auctions_$$
OUT=$WORK/section.md

start_server() { # $1 database url
    local port
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    SOUK_DATA_DIR=$WORK/data SOUK_DATABASE_URL=$1 SOUK_LISTEN=127.0.0.1:$port SOUK_LOG_LEVEL=warn \
    SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef \
    SOUK_ARGON2_OPSLIMIT=1 SOUK_ARGON2_MEMLIMIT=8192 \
        "$SOUK_BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    URL=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# setup.py: a chef, N recipes + auctions, 64 bidders; writes the wrk lua script.
cat >"$WORK/setup.py" <<'PY'
import json, sys, uuid, datetime, requests
url, nauct, conns, secs, lua = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
def post(path, body, tok=None):
    h = {"Authorization": f"Bearer {tok}"} if tok else {}
    r = requests.post(url + path, json=body, headers=h, timeout=30); assert r.status_code in (200, 201), r.text; return r.json()
pw = "bench-password-1"
chef = post("/api/chefs/register/", {"email": f"c{uuid.uuid4().hex[:8]}@b.io", "password": pw, "business_name": "B"})
end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=secs + 30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
ids = []
for i in range(nauct):
    rc = post("/api/recipes/", {"title": f"r{i}", "ingredients": ["x"], "instructions": "y"}, chef["access"])
    ids.append(post("/api/auctions/", {"recipe_id": rc["id"], "starting_price": "0.01", "min_increment": "0.01", "ends_at": end}, chef["access"])["id"])
toks = []
for i in range(conns):
    e = f"u{uuid.uuid4().hex[:8]}@b.io"; post("/api/users/register/", {"email": e, "password": pw})
    toks.append(requests.post(url + "/api/users/login/", json={"email": e, "password": pw}, timeout=30).json()["access"])
with open(lua, "w") as f:
    f.write("local base = %d\n" % int(datetime.datetime.now().timestamp()))
    f.write("local toks = %s\nlocal ids = %s\n" % (json.dumps(toks).replace("[", "{").replace("]", "}"), json.dumps(ids).replace("[", "{").replace("]", "}")))
    f.write(open(sys.argv[6]).read())
print(" ".join(ids))
PY
cat >"$WORK/bids.lua" <<'LUA'
-- one bidder per connection; amounts rise with the wall clock: one cent per 10 microseconds
-- since setup (`base`), so a bid sent later offers more, and a bid is refused only when one
-- sent after it was accepted first. (os.clock, used before, is wrk's CPU time: it rose more
-- slowly than the requests, so the load generator capped the accepted bids.)
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_usec; } bench_timeval;
           int gettimeofday(bench_timeval *tv, void *tz); ]]
local tv = ffi.new("bench_timeval")
local counter, n = 0, 0
setup = function(thread) counter = counter + 1; thread:set("tid", counter) end
init = function(args) n = tid * 1000 end
request = function()
   n = n + 1
   local k = (n % #toks) + 1
   local id = ids[(n % #ids) + 1]
   ffi.C.gettimeofday(tv, nil)
   local us = (tonumber(tv.tv_sec) - base) * 1000000 + tonumber(tv.tv_usec)
   local amt = math.floor(us / 10) + 100
   local cents = string.format("%d.%02d", math.floor(amt / 100), amt % 100)
   return wrk.format("POST", "/api/bids/", {["Authorization"] = "Bearer " .. toks[k],
      ["Content-Type"] = "application/json"}, '{"auction_id":"' .. id .. '","amount":"' .. cents .. '"}')
end
LUA
cat "$ROOT/bench/report.lua" >>"$WORK/bids.lua"

batch_totals() { # "transactions requests" of the bid sequencer so far (GET /metrics)
    curl -fs "$URL/metrics" | awk '/^souk_batch_transactions_total\{kind="bid"\}/ {t=$2}
        /^souk_batch_requests_total\{kind="bid"\}/ {r=$2} END {print t+0, r+0}'
}

run_case() { # $1 label, $2 number of auctions
    local ids before after
    ids=$(/usr/bin/python3 "$WORK/setup.py" "$URL" "$2" "$CONNS" "$SECONDS_RUN" "$WORK/case.lua" "$WORK/bids.lua")
    local line
    before=$(batch_totals)
    line=$(wrk -t4 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s "$WORK/case.lua" "$URL" | grep '^BENCH')
    after=$(batch_totals)
    local accepted=0
    for id in $ids; do
        accepted=$((accepted + $(curl -fs "$URL/api/auctions/$id/" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["bid_count"])')))
    done
    /usr/bin/python3 - "$1" "$accepted" "$SECONDS_RUN" "$line" "$before" "$after" >>"$OUT" <<'PY'
import sys
label, acc, secs, line = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
(t0, r0), (t1, r1) = (map(float, x.split()) for x in sys.argv[5:7])
kv = dict(x.split("=") for x in line.split()[1:])
per_tx = (r1 - r0) / (t1 - t0) if t1 > t0 else 0
print(f"| {label} | {float(kv['rps']):.0f} | {acc / secs:.0f} | {float(kv['p50_us'])/1000:.2f} | {float(kv['p99_us'])/1000:.2f} | {kv['errors_status']} | {per_tx:.1f} |")
PY
}

{
    echo "## Auctions: POST /api/bids/ under contention (bench/auctions.sh)"
    echo
    echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'); wrk -t4 -c$CONNS -d${SECONDS_RUN}s, one bidder per connection, amounts rising with the wall clock, one cent per 10 µs (refused bids are 409s, counted in the non-2xx column)."
    echo "Command: \`bench/auctions.sh --seconds $SECONDS_RUN\`"
    echo
    echo "| case | requests/s | accepted bids/s | p50 ms | p99 ms | non-2xx | bids per transaction |"
    echo "|---|---|---|---|---|---|---|"
} >"$OUT"
start_server "sqlite:///$WORK/data/bench.db"
run_case "SQLite, 1 hot auction" 1
run_case "SQLite, 50 auctions" 50
stop_server
psql "$SOUK_TEST_PG_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
start_server "${SOUK_TEST_PG_URL%/*}/$BENCH_DB"
run_case "PostgreSQL, 1 hot auction" 1
run_case "PostgreSQL, 50 auctions" 50
stop_server
cat "$OUT"
[ "$WRITE" = 1 ] && /usr/bin/python3 "$ROOT/bench/section.py" "$ROOT/bench/RESULTS.md" bench/auctions.sh "$OUT"
exit 0
