#!/usr/bin/env bash
# bench/cluster.sh [--seconds N] - req/s through nginx (deploy/nginx.conf) with 1, 2 and 3 souk
# nodes on one PostgreSQL and Redis, and the same load straight at one node (the proxy hop).
# Two loads: GET /healthz (no database) and GET /api/users/profile/ (token check + one query).
# Bounded: N seconds per run (default 5), 8 runs. Prints a markdown table.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
SECS=5
[ "${1:-}" = "--seconds" ] && SECS=$2
BIN=${SOUK_BIN:-$ROOT/build/souk}
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
PIDS=()
NGINX_PID=
cleanup() {
    [ -n "$NGINX_PID" ] && svc_kill_pid "$NGINX_PID"
    for p in "${PIDS[@]}"; do svc_kill_pid "$p"; done
    svc_stop_all
}
trap cleanup EXIT
svc_pg_start >/dev/null 2>&1 || exit 2
svc_redis_start >/dev/null 2>&1 || exit 2
W=$SVC_DIR/bench; mkdir -p "$W"
PORTS=()
for i in 0 1 2; do
    port=$(svc_free_port)
    mkdir -p "$W/node$i"
    env SOUK_DATA_DIR="$W/node$i" SOUK_DATABASE_URL="$SOUK_TEST_PG_URL" SOUK_REDIS_URL="$SOUK_TEST_REDIS_URL" \
        SOUK_LISTEN="127.0.0.1:$port" SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 \
        SOUK_TRUSTED_PROXIES=127.0.0.1 SOUK_RATE_LIMIT_RPS=0 SOUK_ACCESS_LOG=0 SOUK_LOG_LEVEL=warn \
        "$BIN" serve >"$W/node$i.log" 2>&1 &
    PIDS+=($!); PORTS+=("$port")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
P0=${PORTS[0]}
email="bench-$$@example.com"
curl -sf -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"correct-horse-42\",\"first_name\":\"B\",\"last_name\":\"C\"}" \
    "http://127.0.0.1:$P0/api/users/register/" >/dev/null
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"correct-horse-42\"}" \
    "http://127.0.0.1:$P0/api/users/login/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')

start_nginx() { # N upstreams
    [ -n "$NGINX_PID" ] && svc_kill_pid "$NGINX_PID"
    local n=$1 prefix=$W/nginx$1
    mkdir -p "$prefix/logs" "$prefix/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
    chmod -R 777 "$prefix/tmp"
    NGINX_PORT=$(svc_free_port)
    python3 - "$ROOT/deploy/nginx.conf" "$prefix/nginx.conf" "$NGINX_PORT" "$n" "${PORTS[@]}" <<'PY'
import sys
src, dst, listen, n, ports = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
lines = []
for line in open(src).read().replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};").splitlines():
    for i in range(3):
        if f"server 127.0.0.1:{8001 + i} " in line:
            line = line.replace(f"127.0.0.1:{8001 + i}", f"127.0.0.1:{ports[i]}") if i < n else ""
    lines.append(line)
open(dst, "w").write("\n".join(lines) + "\n")
PY
    nginx -p "$prefix/" -c "$prefix/nginx.conf" -g 'daemon off;' 2>"$prefix/logs/stderr" &
    NGINX_PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$NGINX_PORT/healthz" >/dev/null && break; sleep 0.1; done
}

run() { # LABEL URL [auth]
    local out
    if [ "${3:-}" = auth ]; then
        out=$(wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$2" 2>&1)
    else
        out=$(wrk -t2 -c32 -d"${SECS}s" --latency "$2" 2>&1)
    fi
    local rps p50 p99 non2xx
    rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$out" | awk '$1=="50%" {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
    echo "| $1 | ${rps:-?} | ${p50:-?} / ${p99:-?} | ${non2xx:-0} |"
}

echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, wrk -t2 -c32 -d${SECS}s, $(git rev-parse --short HEAD 2>/dev/null)"
echo
echo "| path | req/s | p50 / p99 | non-2xx |"
echo "|---|---|---|---|"
run "GET /healthz, straight to 1 node" "http://127.0.0.1:$P0/healthz"
run "GET /api/users/profile/, straight to 1 node" "http://127.0.0.1:$P0/api/users/profile/" auth
for n in 1 2 3; do
    start_nginx "$n"
    run "GET /healthz, nginx -> $n node(s)" "http://127.0.0.1:$NGINX_PORT/healthz"
    run "GET /api/users/profile/, nginx -> $n node(s)" "http://127.0.0.1:$NGINX_PORT/api/users/profile/" auth
done
