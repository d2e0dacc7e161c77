#!/usr/bin/env bash
# bench/jobs.sh - the job queue and live notifications under load, on PostgreSQL.
#
#   1. jobs/s through the queue with 1 and then 2 `souk worker` processes (SOUK_JOB_WORKERS
#      threads each, default 4): N test.record jobs (default 5000) are inserted at once, the
#      clock runs from the workers' start until every job is done.
#   2. event delivery latency: commit of a notification (its created_at) to its arrival on an
#      open /api/events/ stream of another connection, p50 and p99 over M events (default 300).
#   3. 1,000 open SSE streams on one node: the server's RSS (VmRSS in /proc/PID/status) before
#      and after, and the memory per stream.
#
# Usage: bench/jobs.sh [--jobs N] [--events M] [--streams S] [--write]   (SOUK_BIN, default build/souk)
# Uses SOUK_TEST_PG_URL when set, else starts a throwaway PostgreSQL (tests/lib/services.sh).
# Only loopback traffic; every process started here is stopped by PID; bounded in count and time.
# Prints a Markdown section on stdout; with --write it also replaces the section between the
# markers <!-- bench/jobs.sh --> and <!-- /bench/jobs.sh --> in bench/RESULTS.md (appended
# when absent), so bench/run.sh's own sections are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=5000 EVENTS=300 STREAMS=1000 THREADS=${SOUK_BENCH_JOB_THREADS:-4} WRITE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) JOBS=$2; shift 2 ;;
        --events) EVENTS=$2; shift 2 ;;
        --streams) STREAMS=$2; shift 2 ;;
        --write) WRITE=1; shift ;;
        *) echo "usage: $0 [--jobs N] [--events M] [--streams S] [--write]" >&2; exit 2 ;;
    esac
done
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
[ -x "$SOUK_BIN" ] || { echo "bench/jobs.sh: no $SOUK_BIN (run make)" >&2; exit 2; }
"$SOUK_BIN" worker --help >/dev/null 2>&1 || { echo "bench/jobs.sh: souk has no worker command" >&2; exit 2; }

# Never inherit another script's service directory: svc_stop_all below removes $SVC_DIR.
unset SVC_DIR SVC_PG_DATA SVC_REDIS_PID
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${BENCH_DB:-}" ] && psql "$SOUK_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1
    [ -n "${WORK:-}" ] && rm -rf "$WORK"
    svc_stop_all
}
trap cleanup EXIT
[ -n "${SOUK_TEST_PG_URL:-}" ] || svc_pg_start >/dev/null
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-jobs.XXXXXX")
BENCH_DB=souk_bench_jobs_$$
psql "$SOUK_TEST_PG_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
DB_URL="${SOUK_TEST_PG_URL%/*}/$BENCH_DB"
export SOUK_DATABASE_URL=$DB_URL SOUK_DATA_DIR=$WORK SOUK_LOG_LEVEL=error SOUK_ACCESS_LOG=0
export SOUK_TEST_JOBS=1 SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789abcdef
"$SOUK_BIN" migrate >/dev/null

q() { psql "$DB_URL" -qAtc "$1"; }

# ---- 1. throughput -----------------------------------------------------------------------
throughput() { # $1 = worker processes
    local procs=$1 t0 t1 done_n pids=() i
    q "DELETE FROM jobs; DELETE FROM test_job_runs;" >/dev/null
    q "INSERT INTO jobs (id, kind, payload, state, run_at, created_at, max_attempts)
       SELECT gen_random_uuid(), 'test.record', '{}', 'pending', 0, 0, 5
       FROM generate_series(1, $JOBS)" >/dev/null
    t0=$(date +%s.%N)
    for i in $(seq 1 "$procs"); do
        SOUK_JOB_WORKERS=$THREADS "$SOUK_BIN" worker >>"$WORK/worker.log" 2>&1 &
        pids+=($!); PIDS+=($!)
    done
    for i in $(seq 1 1200); do # 120 s at most
        done_n=$(q "SELECT count(*) FROM jobs WHERE kind = 'test.record' AND state = 'done'")
        [ "$done_n" -ge "$JOBS" ] && break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    for i in "${pids[@]}"; do kill "$i"; wait "$i" || true; done
    local dup
    dup=$(q "SELECT count(*) FROM (SELECT job_id FROM test_job_runs GROUP BY job_id HAVING count(*) > 1) d")
    awk -v n="$done_n" -v a="$t0" -v b="$t1" -v p="$procs" -v t="$THREADS" -v d="$dup" \
        'BEGIN { printf "| %d × %d threads | %d | %.2f s | %.0f | %d |\n", p, t, n, b - a, n / (b - a), d }'
}

# ---- 2 and 3: one server, Python client ---------------------------------------------------

report() {
echo "## Jobs and live notifications (bench/jobs.sh)"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, PostgreSQL 15 (fsync off), $JOBS test.record jobs"
echo "(each one INSERT of its own), SOUK_JOB_WORKERS=$THREADS per process."
echo
echo "| worker processes | jobs done | wall time | jobs/s | duplicate runs |"
echo "|---|---|---|---|---|"
throughput 1
throughput 2
echo
PORT=$(svc_free_port)
SOUK_LISTEN=127.0.0.1:$PORT SOUK_JOB_WORKERS=2 "$SOUK_BIN" serve >>"$WORK/serve.log" 2>&1 &
SERVE_PID=$!; PIDS+=($SERVE_PID)
"$SOUK_BIN" createuser --email bench-admin@example.com --password bench-password-123 --role ADMIN >/dev/null
/usr/bin/python3 - "$PORT" "$SERVE_PID" "$EVENTS" "$STREAMS" <<'PY'
import json, resource, socket, statistics, sys, threading, time, urllib.request

port, pid, events, streams = (int(x) for x in sys.argv[1:5])
base = f"http://127.0.0.1:{port}"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")

for _ in range(300):
    try:
        call("GET", "/healthz"); break
    except OSError:
        time.sleep(0.1)
admin = call("POST", "/api/users/login/", {"email": "bench-admin@example.com",
                                          "password": "bench-password-123"})["access"]
user = call("POST", "/api/users/register/", {"email": "bench-user@example.com",
            "password": "bench-password-123", "first_name": "B", "last_name": "U"})
token = call("POST", "/api/users/login/", {"email": "bench-user@example.com",
                                          "password": "bench-password-123"})["access"]

def open_stream(tok):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /api/events/ HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
    f = s.makefile("rb")
    assert b" 200 " in f.readline()
    while f.readline() not in (b"\r\n", b"\n", b""):
        pass
    return s, f

# 2. latency: commit (created_at) -> arrival on the stream
sock, f = open_stream(token)
time.sleep(0.3)
lat = []
for i in range(events):
    call("POST", "/api/admin/jobs/enqueue/", {"kind": "test.notify",
         "payload": {"user_id": user["id"], "data": {"i": i}}}, admin)
    while True:
        line = f.readline()
        if line.startswith(b"data: "):
            got = time.time()
            d = json.loads(line[6:])
            created = d["created_at"]
            # RFC 3339 with microseconds, UTC
            t = time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            t += float("0" + created[19:-1])
            lat.append((got - t) * 1000)
            break
sock.close()
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"Event delivery, commit to stream ({events} events, one at a time): "
      f"p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, max {lat[-1]:.2f} ms.")
print()

# 3. memory per open stream
def rss_kb():
    with open(f"/proc/{pid}/status") as st:
        for line in st:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

time.sleep(0.5)
before = rss_kb()
held = [open_stream(token) for _ in range(streams)]
time.sleep(1.0)
after = rss_kb()
for s, _ in held:
    s.close()
print(f"{streams} open SSE streams on one node: RSS {before / 1024:.1f} MiB -> "
      f"{after / 1024:.1f} MiB, {(after - before) / streams:.1f} KiB per stream.")
PY
# report runs in a pipeline's subshell, where the EXIT trap's PIDS cannot see this server:
# stop it here.
kill "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID" 2>/dev/null
}

report | tee "$WORK/section.md"
if [ "$WRITE" = 1 ]; then
    /usr/bin/python3 - "$ROOT/bench/RESULTS.md" "$WORK/section.md" <<'PY'
import os, re, sys
path, section = sys.argv[1], open(sys.argv[2]).read().strip()
block = f"<!-- bench/jobs.sh -->\n{section}\n<!-- /bench/jobs.sh -->"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
pat = re.compile(r"<!-- bench/jobs.sh -->.*?<!-- /bench/jobs.sh -->", re.S)
text = pat.sub(lambda m: block, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + block
open(path, "w").write(text + ("" if text.endswith("\n") else "\n"))
PY
    echo "bench/jobs.sh: updated bench/RESULTS.md" >&2
fi
