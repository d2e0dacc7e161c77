#!/usr/bin/env bash
# bench/webhooks.sh - verified Stripe webhooks per second, on SQLite and PostgreSQL.
#
# Each request is a distinct checkout.session.completed event (own id, signed with
# STRIPE_WEBHOOK_SECRET, within the 300 s tolerance) about one of K checkout sessions the
# server created, so every request runs the whole path: Stripe-Signature verification (HMAC
# over the raw body), JSON parse, inbox insert keyed by event id, match by session id, amount
# and currency check, and the transaction that applies it (the first event per session pays
# it; later ones find it paid and change nothing but the inbox).
# Events are generated beforehand (Python's hmac) and replayed by wrk (bench/webhooks.lua).
#
# Usage: bench/webhooks.sh [--seconds S] [--connections C] [--dbs "sqlite pgsql"] [--write]
# SOUK_BIN (default build/souk) must serve the payments API. PostgreSQL: SOUK_TEST_PG_URL, or
# a throwaway cluster from tests/lib/services.sh. Loopback only; everything started here is
# stopped by PID. Prints a Markdown section; --write also replaces the section between
# <!-- bench/webhooks.sh --> and <!-- /bench/webhooks.sh --> in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=10 CONNS=32 DBS="sqlite pgsql" WRITE=0 SESSIONS=50
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECS=$2; shift 2 ;;
        --connections) CONNS=$2; shift 2 ;;
        --dbs) DBS=$2; shift 2 ;;
        --write) WRITE=1; shift ;;
        *) echo "usage: $0 [--seconds S] [--connections C] [--dbs LIST] [--write]" >&2; exit 2 ;;
    esac
done
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
[ -x "$SOUK_BIN" ] || { echo "bench/webhooks.sh: no $SOUK_BIN (run make)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/webhooks.sh: wrk is not installed" >&2; exit 2; }

unset SVC_DIR SVC_PG_DATA SVC_REDIS_PID
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
SRV_PID="" WORK="" BENCH_DB=""
cleanup() {
    [ -n "$SRV_PID" ] && { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }
    [ -n "$BENCH_DB" ] && psql "$SOUK_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1
    [ -n "$WORK" ] && rm -rf "$WORK"
    svc_stop_all
}
trap cleanup EXIT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-wh.XXXXXX")
SECRET=whsec_bench_0123456789abcdef
PORT=$(svc_free_port)
URL=http://127.0.0.1:$PORT

start_server() { # $1 = database url
    SOUK_DATABASE_URL=$1 SOUK_DATA_DIR=$WORK/data SOUK_LISTEN=127.0.0.1:$PORT SOUK_LOG_LEVEL=error \
    SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0 SOUK_TEST_PAYMENTS=1 STRIPE_WEBHOOK_SECRET=$SECRET \
    SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789abcdef \
        "$SOUK_BIN" serve >"$WORK/souk.log" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "bench/webhooks.sh: server did not start" >&2; cat "$WORK/souk.log" >&2; exit 1
}

stop_server() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=""; }

# Creates the sessions and writes $WORK/events.txt (one "signature<TAB>body" per line).
make_events() { # $1 = how many
    /usr/bin/python3 - "$URL" "$SECRET" "$SESSIONS" "$1" "$WORK/events.txt" <<'PY'
import hashlib, hmac, json, sys, time, uuid
import requests
url, secret, k, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
requests.post(url + "/api/users/register/", json={"email": email, "password": "bench-password-1"}).raise_for_status()
tok = requests.post(url + "/api/users/login/", json={"email": email, "password": "bench-password-1"}).json()["access"]
sessions = []
for _ in range(k):
    r = requests.post(url + "/api/payments/checkout/", headers={"Authorization": "Bearer " + tok},
                      json={"purpose": "test", "id": str(uuid.uuid4()), "amount": "25.00", "currency": "eur"})
    r.raise_for_status()
    sessions.append(r.json()["id"])
t = int(time.time())
with open(out, "w") as f:
    for i in range(n):
        body = json.dumps({"id": "evt_" + uuid.uuid4().hex, "object": "event", "type": "checkout.session.completed",
                           "created": t, "livemode": False, "api_version": "2026-10-28.endive",
                           "data": {"object": {"id": sessions[i % k], "object": "checkout.session",
                                               "mode": "payment", "status": "complete", "payment_status": "paid",
                                               "amount_total": 2500, "currency": "eur",
                                               "payment_intent": "pi_bench_%d" % (i % k)}}},
                          separators=(",", ":"))
        mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        f.write(f"t={t},v1={mac}\t{body}\n")
PY
}

count_inbox() { # $1 = db kind, $2 = url
    if [ "$1" = sqlite ]; then sqlite3 "$WORK/data/souk.db" "SELECT COUNT(*) FROM payment_events"
    else psql "$2" -qAtc "SELECT COUNT(*) FROM payment_events"; fi
}

run_db() { # $1 = sqlite|pgsql
    local db=$1 url events out req rps lat non2xx inbox
    rm -rf "$WORK/data"; mkdir -p "$WORK/data"
    if [ "$db" = pgsql ]; then
        BENCH_DB=souk_bench_wh_$$
        psql "$SOUK_TEST_PG_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
        url="${SOUK_TEST_PG_URL%/*}/$BENCH_DB"
    else
        url="sqlite:///$WORK/data/souk.db"
    fi
    start_server "$url"
    events=$((SECS * 20000))   # more than can be sent: every request is a new event id
    make_events "$events"
    local threads=$(( CONNS < $(nproc) ? CONNS : $(nproc) ))
    out=$(EVENTS_FILE=$WORK/events.txt WRK_THREADS=$threads wrk -t"$threads" -c"$CONNS" \
          -d"${SECS}s" --latency -s "$ROOT/bench/webhooks.lua" "$URL/api/payments/webhooks/" 2>&1)
    req=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    lat=$(awk '/ 50%/ {p50=$2} / 99%/ {p99=$2} END {print p50 " / " p99}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
    inbox=$(count_inbox "$db" "$url")
    stop_server
    if [ "$db" = pgsql ]; then psql "$SOUK_TEST_PG_URL" -qc "DROP DATABASE $BENCH_DB WITH (FORCE)" >/dev/null; BENCH_DB=""; fi
    echo "| $db | $CONNS | $req | $rps | $lat | $non2xx | $inbox |"
}

section() {
    echo "<!-- bench/webhooks.sh -->"
    echo "## Webhooks: verified webhooks per second (bench/webhooks.sh)"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${SECS}s per run, $SESSIONS checkout sessions; each request"
    echo "a distinct signed \`checkout.session.completed\`: signature + inbox insert + match + transaction."
    echo
    echo "| database | connections | requests | webhooks/s | p50 / p99 latency | non-2xx | inbox rows |"
    echo "|---|---|---|---|---|---|---|"
    for db in $DBS; do run_db "$db"; done
    echo "<!-- /bench/webhooks.sh -->"
}

# PostgreSQL is started here, in this shell, not inside $(section)'s subshell: the EXIT trap
# must know the cluster to stop it.
if [[ " $DBS " == *" pgsql "* ]] && [ -z "${SOUK_TEST_PG_URL:-}" ]; then
    svc_pg_start >/dev/null || { echo "bench/webhooks.sh: PostgreSQL did not start" >&2; exit 1; }
fi
RESULT=$(section)
echo "$RESULT"
if [ "$WRITE" = 1 ]; then
    /usr/bin/python3 - "$ROOT/bench/RESULTS.md" "$RESULT" <<'PY'
import re, sys
path, new = sys.argv[1], sys.argv[2]
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
pat = re.compile(r"<!-- bench/webhooks.sh -->.*?<!-- /bench/webhooks.sh -->", re.S)
text = pat.sub(lambda m: new, text) if pat.search(text) else text.rstrip() + "\n\n" + new + "\n"
open(path, "w").write(text)
PY
fi
