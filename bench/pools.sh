#!/usr/bin/env bash
# bench/pools.sh [--seconds N] - how many handler threads (SOUK_WORKERS) and database
# connections (SOUK_DB_POOL) one node wants, measured rather than guessed. On a throwaway
# PostgreSQL 15 (tests/lib/services.sh, fsync off) and on SQLite, one `souk serve` per setting,
# wrk -t2 -c64 for N seconds (default 5) on two signed-in reads:
#   GET /api/users/profile/            token check + one query
#   GET /api/recipes/?cuisine=thai     the signed-in cookbook page (one list read + grants)
# Settings: SOUK_WORKERS 2, 4, 8, 16 with the default pool (workers + job workers + 2), then
# SOUK_WORKERS=4 with SOUK_DB_POOL 2 and 4 (fewer connections than threads). Loopback only;
# everything started here is stopped by PID. Prints a Markdown section on stdout.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
SECS=5
[ "${1:-}" = "--seconds" ] && SECS=$2
BIN=${SOUK_BIN:-$ROOT/build/souk}
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
PID=
cleanup() {
    [ -n "$PID" ] && svc_kill_pid "$PID"
    svc_stop_all
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh)"
svc_pg_start >/dev/null 2>&1 || die "PostgreSQL did not start"
W=$SVC_DIR/bench; mkdir -p "$W"
PG=$SOUK_TEST_PG_URL SQ="sqlite:///$W/souk.db"

start() { # DB_URL WORKERS [POOL]
    [ -n "$PID" ] && svc_kill_pid "$PID"
    PORT=$(svc_free_port)
    env SOUK_DATA_DIR="$W" SOUK_DATABASE_URL="$1" SOUK_WORKERS="$2" ${3:+SOUK_DB_POOL=$3} \
        SOUK_LISTEN="127.0.0.1:$PORT" SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 \
        SOUK_RATE_LIMIT_RPS=0 SOUK_ACCESS_LOG=0 SOUK_LOG_LEVEL=warn "$BIN" serve \
        >"$W/souk.log" 2>&1 </dev/null &
    PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
    die "souk did not start: $(tail -3 "$W/souk.log")"
}

seed() { # one chef with 30 recipes, one reader; sets TOKEN
    /usr/bin/python3 - "http://127.0.0.1:$PORT" >"$W/token" <<'PY' || die "seeding failed"
import sys, uuid, requests
base = sys.argv[1]
s = requests.Session()
c = s.post(base + "/api/chefs/register/", json={"email": f"c{uuid.uuid4().hex[:8]}@bench.test",
           "password": "bench-password-42", "business_name": "Bench", "bio": "b"}).json()
h = {"Authorization": "Bearer " + c["access"]}
for i in range(30):
    s.post(base + "/api/recipes/", headers=h, json={"title": f"Curry {i}", "summary": "s",
           "ingredients": ["x"], "instructions": "y", "cuisine": "thai", "dietary": [],
           "difficulty": "easy", "cook_minutes": 10, "is_premium": i % 2 == 1}).raise_for_status()
e = f"r{uuid.uuid4().hex[:8]}@bench.test"
s.post(base + "/api/users/register/", json={"email": e, "password": "bench-password-42"})
print(s.post(base + "/api/users/login/", json={"email": e, "password": "bench-password-42"}).json()["access"])
PY
    TOKEN=$(cat "$W/token")
}

load() { # PATH -> "req/s p50 p99 errors"
    wrk -t2 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT$1" 2>&1 |
        awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx|Socket errors/ {e=e $0}
             END {printf "%s | %s / %s | %s", r, p50, p99, (e == "" ? 0 : e)}'
}

echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(git rev-parse --short HEAD 2>/dev/null); wrk -t2 -c64 -d${SECS}s on loopback, souk, PostgreSQL and wrk on the same cores; 2 job workers"
echo
echo "| db | SOUK_WORKERS | SOUK_DB_POOL | profile req/s | p50 / p99 | errors | cookbook req/s | p50 / p99 | errors |"
echo "|---|---:|---:|---:|---|---|---:|---|---|"
for db in pgsql sqlite; do
    url=$PG; [ "$db" = sqlite ] && url=$SQ
    for setting in "2" "4" "8" "16" "4 2" "4 4"; do
        set -- $setting
        start "$url" "$1" "${2:-}"
        [ -n "${TOKEN:-}" ] || seed  # once per database
        pool=${2:-$(( $1 + 2 + 2 ))}
        echo "| $db | $1 | $pool | $(load /api/users/profile/) | $(load '/api/recipes/?cuisine=thai') |"
    done
    TOKEN=
done
echo
echo "Command: \`bench/pools.sh --seconds $SECS\`"
