#!/usr/bin/env bash
# bench/replica.sh [--seconds N] - a read replica under load: replay lag of a streaming-replication
# hot standby while one vendor creates listings as fast as souk takes them, and listing-list
# reads with and without SOUK_DATABASE_REPLICA_URL (where the reads went, from /metrics).
# Throwaway PostgreSQL 15 primary + standby (tests/lib/services.sh, fsync off, synchronous_commit on), one Redis, two
# souk nodes (one with the replica, one without), wrk on loopback. Bounded: N seconds per run
# (default 10), 4 runs. Prints a Markdown section on stdout.
#
# Lag is sampled every 50 ms during the write load, over one psql session per database: bytes =
# pg_current_wal_insert_lsn() on the primary minus pg_last_wal_replay_lsn() on the standby read
# just after; time = from reading the primary's position until the standby reports having
# replayed it (polled every 1 ms) - what a writer's read waits for before it may use the replica.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
SECS=10
[ "${1:-}" = "--seconds" ] && SECS=$2
BIN=${SOUK_BIN:-$ROOT/build/souk}
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do svc_kill_pid "$p"; done
    svc_stop_all
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh)"
svc_pg_start >/dev/null 2>&1 || die "PostgreSQL did not start"
svc_standby_start >/dev/null 2>&1 || die "the standby did not start"
svc_redis_start >/dev/null 2>&1 || die "Redis did not start"
W=$SVC_DIR/bench; mkdir -p "$W"
PRIMARY=$SOUK_TEST_PG_URL STANDBY=$SOUK_TEST_PG_STANDBY_URL
# The test cluster commits asynchronously; then WAL reaches the standby only when the WAL writer
# flushes it (every wal_writer_delay, 200 ms), which would be most of the lag measured. A
# production primary commits synchronously: so does this one (fsync stays off: no real disk).
psql -X -qAt "$PRIMARY" -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" \
    >/dev/null || die "cannot set synchronous_commit"

start_node() { # NAME [replica url]; sets PORT (in this shell, so that PIDS keeps the node)
    PORT=$(svc_free_port)
    mkdir -p "$W/$1"
    env SOUK_DATA_DIR="$W/$1" SOUK_DATABASE_URL="$PRIMARY" SOUK_DATABASE_REPLICA_URL="${2:-}" \
        SOUK_REDIS_URL="$SOUK_TEST_REDIS_URL" SOUK_LISTEN="127.0.0.1:$PORT" SOUK_JOB_WORKERS=0 \
        SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 SOUK_RATE_LIMIT_RPS=0 \
        SOUK_ACCESS_LOG=0 SOUK_LOG_LEVEL=warn "$BIN" serve >"$W/$1.log" 2>&1 </dev/null &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
    die "souk did not start: $(tail -3 "$W/$1.log")"
}
start_node plain; PLAIN=$PORT
start_node replica "$STANDBY"; REPL=$PORT

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
post() { curl -sf -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} -d "$2" \
    "http://127.0.0.1:$PLAIN$1"; }
VENDOR=$(post /api/chefs/register/ '{"email":"v-'$$'@bench.test","password":"bench-password-42","business_name":"Bench","bio":"b"}' | json 'd["access"]') || die "no vendor"
post /api/users/register/ '{"email":"r-'$$'@bench.test","password":"bench-password-42"}' >/dev/null
READER=$(post /api/users/login/ '{"email":"r-'$$'@bench.test","password":"bench-password-42"}' | json 'd["access"]') || die "no reader"
for i in $(seq 1 200); do
    post /api/listings/ "{\"title\":\"Seed $i\",\"price\":\"$i.00\",\"status\":\"active\"}" "$VENDOR" >/dev/null
done

cat >"$W/create.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"title": "Under load", "price": "12.00", "status": "active"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $VENDOR"
EOF

wrk_row() { # LABEL OUT
    local rps p50 p99 non2xx
    rps=$(printf '%s\n' "$2" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$2" | awk '$1=="50%" {print $2}')
    p99=$(printf '%s\n' "$2" | awk '$1=="99%" {print $2}')
    non2xx=$(printf '%s\n' "$2" | awk '/Non-2xx/ {print $NF}')
    echo "| $1 | ${rps:-?} | ${p50:-?} / ${p99:-?} | ${non2xx:-0} |"
}
reads_metrics() { curl -sf "http://127.0.0.1:$1/metrics" | grep '^souk_db_reads_total' | sed 's/^/    /'; }

# 1) replay lag while the vendor writes through the node with the replica
/usr/bin/python3 - "$PRIMARY" "$STANDBY" "$SECS" >"$W/lag.txt" <<'PY' &
import subprocess, sys, time
primary, standby, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
class Session:  # one psql per database, kept open: a query costs a round trip, not a process
    def __init__(self, url):
        self.p = subprocess.Popen(["psql", "-X", "-qAt", url], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
    def q(self, sql):
        self.p.stdin.write(sql + ";\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()
def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
pri, sby = Session(primary), Session(standby)
nbytes, lag_ms, end = [], [], time.time() + secs
while time.time() < end:
    t0 = time.perf_counter()
    p = pri.q("SELECT pg_current_wal_insert_lsn()")
    s = sby.q("SELECT pg_last_wal_replay_lsn()")
    nbytes.append(max(0, lsn(p) - lsn(s)))
    while sby.q(f"SELECT pg_last_wal_replay_lsn() >= '{p}'::pg_lsn") != "t":
        if time.perf_counter() - t0 > 5:
            break
        time.sleep(0.001)
    lag_ms.append((time.perf_counter() - t0) * 1000)
    time.sleep(0.05)
def pct(v, k):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * k))] if v else float("nan")
print(f"| primary's WAL position minus the standby's replay position, bytes | {len(nbytes)} | {pct(nbytes, .5):.0f} | {pct(nbytes, .99):.0f} | {max(nbytes or [0]):.0f} |")
print(f"| time until the standby has replayed the primary's position, ms | {len(lag_ms)} | {pct(lag_ms, .5):.2f} | {pct(lag_ms, .99):.2f} | {max(lag_ms or [0]):.2f} |")
PY
SAMPLER=$!
WRITES=$(wrk -t2 -c16 -d"${SECS}s" --latency -s "$W/create.lua" "http://127.0.0.1:$REPL/api/listings/" 2>&1)
wait "$SAMPLER"

# 2) listing reads by a reader who writes nothing, without and with the replica
RD_PLAIN=$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $READER" \
    "http://127.0.0.1:$PLAIN/api/listings/" 2>&1)
RD_REPL=$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $READER" \
    "http://127.0.0.1:$REPL/api/listings/" 2>&1)
# 3) the same reads by the vendor while it keeps writing (its reads wait for replay)
cat >"$W/mixed.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $VENDOR"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
    n = n + 1
    if n % 4 == 0 then
        return wrk.format("POST", "/api/listings/", nil,
                          '{"title": "Mixed", "price": "3.00", "status": "active"}')
    end
    return wrk.format("GET", "/api/listings/")
end
EOF
MIXED=$(wrk -t2 -c16 -d"${SECS}s" --latency -s "$W/mixed.lua" "http://127.0.0.1:$REPL" 2>&1)

echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null); primary, standby, Redis, two nodes and wrk on the same 2 cores"
echo
echo "| load | req/s | p50 / p99 | non-2xx |"
echo "|---|---|---|---|"
wrk_row "POST /api/listings/ (one vendor, wrk -c16), node with the replica" "$WRITES"
wrk_row "GET /api/listings/ signed in, node without a replica (wrk -c32)" "$RD_PLAIN"
wrk_row "GET /api/listings/ signed in, node with the replica (wrk -c32)" "$RD_REPL"
wrk_row "the vendor: 3 GET : 1 POST, node with the replica (wrk -c16)" "$MIXED"
echo
echo "Replay lag during the write load (sampled every 50 ms):"
echo
echo "| measure | samples | p50 | p99 | max |"
echo "|---|---:|---:|---:|---:|"
cat "$W/lag.txt"
echo
echo "Where the node with the replica sent its reads (/metrics, whole run):"
echo
echo '```'
reads_metrics "$REPL"
echo '```'
echo
echo "Command: \`bench/replica.sh --seconds $SECS\`"
