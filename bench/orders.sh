#!/usr/bin/env bash
# bench/orders.sh - placing orders under load, on SQLite and PostgreSQL.
#
#   1. orders/s and latency (p50/p99) of POST /api/orders/ with wrk, 64 connections:
#      "hot"    every order on ONE variant (all writers contend on one row: the conditional
#               `UPDATE variants SET stock = stock - q WHERE id = $1 AND stock >= q`)
#      "spread" orders spread at random over 100 variants
#      Each order is a full one: stock reserved, order + history + checkout intent + expiry job
#      in one transaction, then the checkout opened at the (sandbox) payment provider over HTTP.
#   2. the oversell proof at full size: 64 clients x 500 attempts on a variant with stock 100
#      -> exactly 100 orders (201) and stock 0; everything else 409 out_of_stock.
#   --latency: instead, orders/s on the hot variant with wrk -t2 -c1000 while the sandbox
#      provider answers at once and 300 ms late (SOUK_SANDBOX_LATENCY_MS): provider calls park
#      their request's fiber, so the 300 ms figure should stay close to the 0 ms one.
#
# Usage: bench/orders.sh [--seconds N] [--dbs "sqlite pgsql"] [--latency] [--write]
# SOUK_BIN (default build/souk) must serve the catalog and order routes. Loopback only; every
# process started here is stopped by PID; bounded (N seconds per wrk run, default 10).
# Prints a Markdown section; --write replaces the section between <!-- bench/orders.sh --> and
# <!-- /bench/orders.sh --> in bench/RESULTS.md (appended when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=10 DBS="sqlite pgsql" WRITE=0 LATENCY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECS=$2; shift 2 ;;
        --dbs) DBS=$2; shift 2 ;;
        --write) WRITE=1; shift ;;
        --latency) LATENCY=1; shift ;;
        *) echo "usage: $0 [--seconds N] [--dbs \"sqlite pgsql\"] [--latency] [--write]" >&2
           exit 2 ;;
    esac
done
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-orders.XXXXXX")
SOUK_PID=
cleanup() {
    [ -n "$SOUK_PID" ] && kill "$SOUK_PID" 2>/dev/null && wait "$SOUK_PID" 2>/dev/null || true
    svc_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT

start_souk() { # $1 db url, $2 data dir [, $3 provider latency ms]; sets SOUK_PID, URL
    local port
    port=$(svc_free_port)
    mkdir -p "$2"
    SOUK_DATA_DIR=$2 SOUK_DATABASE_URL=$1 SOUK_LISTEN=127.0.0.1:$port SOUK_RATE_LIMIT_RPS=0 \
        SOUK_ACCESS_LOG=0 SOUK_LOG_LEVEL=warn SOUK_JOB_WORKERS=2 \
        SOUK_SANDBOX_LATENCY_MS=${3:-0} SOUK_MAX_CONNECTIONS_PER_IP=4096 \
        "$SOUK_BIN" serve >"$2/stdout.log" 2>"$2/stderr.log" &
    SOUK_PID=$!
    URL=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "souk did not start: $(tail -5 "$2/stderr.log")" >&2
    return 1
}

stop_souk() { kill "$SOUK_PID"; wait "$SOUK_PID" || true; SOUK_PID=; }

# Vendor, 100 variants (huge stock), 64 customers; writes the wrk script.
setup() {
    /usr/bin/python3 - "$URL" "$WORK/orders.lua" <<'PY'
import sys, uuid, requests
url, out = sys.argv[1], sys.argv[2]
s = requests.Session()
def user(role):
    email = f"b-{uuid.uuid4().hex[:10]}@example.com"
    s.post(url + "/api/users/register/", json={"email": email, "password": "bench-password-1",
                                               "role": role}).raise_for_status()
    return s.post(url + "/api/users/login/", json={"email": email,
                                                   "password": "bench-password-1"}).json()["access"]
v = user("VENDOR"); h = {"Authorization": f"Bearer {v}"}
s.post(url + "/api/vendors/profile/", json={"business_name": "Bench"}, headers=h).raise_for_status()
sid = s.post(url + "/api/services/", json={"name": "Bench"}, headers=h).json()["id"]
vids = [s.post(url + f"/api/services/{sid}/variants/", json={"name": f"v{i}", "price": "9.99",
        "stock": 1000000000}, headers=h).json()["id"] for i in range(100)]
toks = [user("CUSTOMER") for _ in range(64)]
with open(out, "w") as f:
    f.write("local toks = {%s}\nlocal vids = {%s}\n" % (",".join(f'"{t}"' for t in toks),
                                                       ",".join(f'"{x}"' for x in vids)))
    f.write("""local spread = os.getenv("SPREAD") == "1"
local n = 0
request = function()
  n = n + 1
  local v = vids[1]
  if spread then v = vids[math.random(#vids)] end
  return wrk.format("POST", "/api/orders/", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. toks[(n % #toks) + 1]}, '{"variant_id":"' .. v .. '"}')
end
""")
PY
    cat "$ROOT/bench/report.lua" >>"$WORK/orders.lua"
}

run_wrk() { # $1 spread(0|1) [, $2 wrk connection options] -> "rps p50_ms p99_ms errors"
    # shellcheck disable=SC2086
    SPREAD=$1 wrk ${2:--t4 -c64} -d"${SECS}s" --latency -s "$WORK/orders.lua" "$URL" 2>&1 |
        awk '/^BENCH/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); m[kv[1]] = kv[2] }
             printf "%.0f %.1f %.1f %d\n", m["rps"], m["p50_us"] / 1000, m["p99_us"] / 1000,
                    m["errors_status"] + m["errors_timeout"] + m["errors_connect"] }'
}

# 64 clients x 500 attempts on stock 100 -> "ok conflicts other stock seconds"
oversell() {
    /usr/bin/python3 - "$URL" <<'PY'
import sys, threading, time, uuid, requests
url = sys.argv[1]
def user(s, role):
    email = f"o-{uuid.uuid4().hex[:10]}@example.com"
    s.post(url + "/api/users/register/", json={"email": email, "password": "bench-password-1",
                                               "role": role}).raise_for_status()
    return s.post(url + "/api/users/login/", json={"email": email,
                                                   "password": "bench-password-1"}).json()["access"]
s = requests.Session()
h = {"Authorization": "Bearer " + user(s, "VENDOR")}
s.post(url + "/api/vendors/profile/", json={"business_name": "Hot"}, headers=h).raise_for_status()
sid = s.post(url + "/api/services/", json={"name": "Hot"}, headers=h).json()["id"]
vid = s.post(url + f"/api/services/{sid}/variants/", json={"name": "last", "price": "29.99",
             "stock": 100}, headers=h).json()["id"]
toks = [user(s, "CUSTOMER") for _ in range(16)]
codes, lock, bar = [], threading.Lock(), threading.Barrier(64)
def client(i):
    c = requests.Session(); hh = {"Authorization": "Bearer " + toks[i % 16]}; mine = []
    bar.wait()
    for _ in range(500):
        mine.append(c.post(url + "/api/orders/", json={"variant_id": vid}, headers=hh).status_code)
    with lock: codes.extend(mine)
t0 = time.monotonic()
ts = [threading.Thread(target=client, args=(i,)) for i in range(64)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.monotonic() - t0
stock = s.get(url + f"/api/services/variants/{vid}/availability/").json()["stock"]
print(codes.count(201), codes.count(409), len(codes) - codes.count(201) - codes.count(409),
      stock, f"{dt:.1f}")
PY
}

db_url() { # $1 sqlite|pgsql, $2 folder -> a fresh database
    case $1 in
        sqlite) echo "sqlite:///$2/souk.db" ;;
        pgsql)
            name="souk_bench_$RANDOM$RANDOM"
            psql "${SOUK_TEST_PG_URL}" -qc "CREATE DATABASE $name" >/dev/null
            echo "${SOUK_TEST_PG_URL%/*}/$name" ;;
    esac
}

write_section() { # $1 marker, $2 section
    [ "$WRITE" = 1 ] || return 0
    /usr/bin/python3 - "$ROOT/bench/RESULTS.md" "$1" "$2" <<'PY'
import os, re, sys
path, marker, section = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read() if os.path.exists(path) else "# souk benchmark results\n"
pat = re.compile(r"<!-- %s -->.*?<!-- /%s -->" % (re.escape(marker), re.escape(marker)), re.S)
text = pat.sub(lambda m: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
}

if [[ " $DBS " == *" pgsql "* ]] && [ -z "${SOUK_TEST_PG_URL:-}" ]; then
    svc_pg_start # here, not in a subshell: cleanup stops it
fi

if [ "$LATENCY" = 1 ]; then
    ROWS=""
    for db in $DBS; do
        base=""
        for ms in 0 300; do
            dir="$WORK/$db-$ms"
            mkdir -p "$dir"
            start_souk "$(db_url "$db" "$dir")" "$dir" "$ms"
            setup
            read -r rps p50 p99 err < <(run_wrk 0 "-t2 -c1000 --timeout 10s")
            stop_souk
            [ -n "$base" ] || base=$rps
            ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
            ROWS+="| $db | $ms | $rps | $p50 | $p99 | $err | $ratio |"$'\n'
        done
    done
    SECTION="<!-- bench/orders.sh latency -->
## Orders with a slow provider (bench/orders.sh --latency)

\`bench/orders.sh --latency --seconds $SECS --dbs \"$DBS\"\` on $(nproc) cores ($(uname -sr)),
$(date -u +%Y-%m-%d). wrk -t2 -c1000 over loopback, every order on one variant with a big stock;
the sandbox provider answers every API call after SOUK_SANDBOX_LATENCY_MS. 4 HTTP workers
(the default on 2 cores); provider calls run on fibers parked on the provider loop.

| db | provider latency ms | orders/s | p50 ms | p99 ms | errors | vs 0 ms |
|---|---|---|---|---|---|---|
${ROWS}<!-- /bench/orders.sh latency -->"
    echo "$SECTION"
    write_section "bench/orders.sh latency" "$SECTION"
    exit 0
fi

ROWS="" PROOF=""
for db in $DBS; do
    mkdir -p "$WORK/$db"
    dburl=$(db_url "$db" "$WORK/$db")
    start_souk "$dburl" "$WORK/$db"
    setup
    read -r hot_rps hot_p50 hot_p99 hot_err < <(run_wrk 0)
    read -r sp_rps sp_p50 sp_p99 sp_err < <(run_wrk 1)
    read -r ok conflicts other stock secs < <(oversell)
    stop_souk
    ROWS+="| $db | hot (1 variant) | $hot_rps | $hot_p50 | $hot_p99 | $hot_err |"$'\n'
    ROWS+="| $db | spread (100 variants) | $sp_rps | $sp_p50 | $sp_p99 | $sp_err |"$'\n'
    PROOF+="| $db | 64 x 500 = 32000 | $ok | $conflicts | $other | $stock | $secs |"$'\n'
done

SECTION="<!-- bench/orders.sh -->
## Orders: POST /api/orders/ under load (bench/orders.sh)

\`bench/orders.sh --seconds $SECS\` on $(nproc) cores ($(uname -sr)), $(date -u +%Y-%m-%d).
wrk -t4 -c64 over loopback; each order reserves stock, writes order + history + checkout intent +
expiry job in one transaction, then opens the checkout at the sandbox provider (an HTTP round
trip on loopback). Rate limit off (SOUK_RATE_LIMIT_RPS=0), 2 job workers.

| db | variant(s) | orders/s | p50 ms | p99 ms | errors |
|---|---|---|---|---|---|
${ROWS}
Oversell proof, 64 clients x 500 attempts on one variant with stock 100:

| db | attempts | 201 | 409 out_of_stock | other | stock left | seconds |
|---|---|---|---|---|---|---|
${PROOF}<!-- /bench/orders.sh -->"
echo "$SECTION"
write_section "bench/orders.sh" "$SECTION"
