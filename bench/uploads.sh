#!/usr/bin/env bash
# bench/uploads.sh - the showcase under load, on SQLite: POST /api/projects/ with 12 x 1 MiB
# PNGs (requests/s, p99, the server's RSS before and after), the server's RSS over 1,000
# one-image uploads made one at a time (memory stays flat: files stream to disk), the first
# page of /api/projects/ with `is_favorite` for a signed-in caller at 100k projects (p99), and
# a 30-day statistics read. With --write it replaces its own section of bench/RESULTS.md
# (bench/section.py); otherwise the section goes to stdout.
#
# Environment: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 16 for uploads, 64 for
# reads), BENCH_PROJECTS (default 100000), BENCH_RSS_UPLOADS (default 1000), SOUK_BIN.
# Loopback only; every wrk run is bounded by BENCH_SECONDS (+ a timeout); the server started
# here is stopped by its PID.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
SECS=${BENCH_SECONDS:-10}
NPROJ=${BENCH_PROJECTS:-100000}
NRSS=${BENCH_RSS_UPLOADS:-1000}
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
. "$ROOT/tests/lib/services.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-uploads.XXXXXX") || exit 2
SOUK_PID=
cleanup() {
    if [ -n "$SOUK_PID" ]; then kill -TERM "$SOUK_PID" 2>/dev/null; wait "$SOUK_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "bench/uploads.sh: $*" >&2; exit 1; }

port=$(svc_free_port)
URL=http://127.0.0.1:$port
env SOUK_DATA_DIR="$WORK/data" SOUK_LISTEN="127.0.0.1:$port" SOUK_LOG_LEVEL=warn \
    SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123 \
    "$SOUK_BIN" serve >"$WORK/souk.log" 2>&1 </dev/null &
SOUK_PID=$!
for _ in $(seq 1 300); do curl -fs -o /dev/null "$URL/healthz" && break; sleep 0.1; done
curl -fs -o /dev/null "$URL/healthz" || { tail -n 20 "$WORK/souk.log" >&2; die "souk did not start"; }

python3 bench/uploads.py setup "$URL" "$WORK" || die "setup failed"
. "$WORK/env"
wrk_line() { # connections url [script]
    timeout $((SECS + 30)) wrk -t2 -c"$1" -d"${SECS}s" --latency -s "${3:-bench/report.lua}" "$2" \
        2>/dev/null | grep '^BENCH'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

rss0=$(awk '/VmRSS/ {print $2}' /proc/$SOUK_PID/status)
UP=$(BENCH_BODY=$BODY BENCH_TYPE=$TYPE BENCH_AUTH=$TOKEN wrk_line "${BENCH_CONNECTIONS:-16}" \
     "$URL/api/projects/" bench/uploads.lua)
rss1=$(awk '/VmRSS/ {print $2}' /proc/$SOUK_PID/status)
RSS=$(python3 bench/uploads.py rss "$URL" "$WORK" "$SOUK_PID" "$NRSS") || die "rss run failed"

python3 bench/uploads.py seed "$WORK/data/souk.db" "$VENDOR" "$NPROJ" || die "seed failed"
# the caller favours a page worth of projects so is_favorite is true on some rows
for id in $(curl -fs "$URL/api/projects/?page_size=10" | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)["results"]))'); do
    curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" "$URL/api/projects/$id/favorite/"
done
LIST=$(BENCH_AUTH=$TOKEN wrk_line 64 "$URL/api/projects/")
STATS=$(BENCH_AUTH=$TOKEN wrk_line 64 "$URL/api/projects/$PROJECT/statistics/?days=30")

{
    echo "## Showcase: uploads, project list, statistics (bench/uploads.sh)"
    echo
    echo "SQLite, $(nproc) cores, wrk ${SECS}s per row; $(date -u +%Y-%m-%d)."
    echo
    echo "| what | connections | requests/s | p50 ms | p99 ms | non-2xx |"
    echo "|---|---|---|---|---|---|"
    echo "| POST /api/projects/, 12 x $((FILE_BYTES / 1024)) KiB PNG | ${BENCH_CONNECTIONS:-16} | $(field "$UP" rps) | $(ms "$(field "$UP" p50_us)") | $(ms "$(field "$UP" p99_us)") | $(field "$UP" errors_status) |"
    echo "| GET /api/projects/ (signed in, is_favorite), $NPROJ projects | 64 | $(field "$LIST" rps) | $(ms "$(field "$LIST" p50_us)") | $(ms "$(field "$LIST" p99_us)") | $(field "$LIST" errors_status) |"
    echo "| GET /api/projects/{id}/statistics/?days=30 | 64 | $(field "$STATS" rps) | $(ms "$(field "$STATS" p50_us)") | $(ms "$(field "$STATS" p99_us)") | $(field "$STATS" errors_status) |"
    echo
    echo "Server RSS: $((rss0 / 1024)) MiB before the upload run, $((rss1 / 1024)) MiB after it."
    echo "The project list reads the projects under TOP by the top_until range of projects_top_idx (src/projects/list.c);"
    echo "before that, with no project under TOP, each page walked the whole created_at index: 41 req/s, p99 1675 ms at 100000 projects."
    echo "Over $NRSS one-image uploads made one at a time, RSS samples (KiB, before and after each quarter): \`${RSS#RSS }\`."
} >"$WORK/section.md"
if [ "$WRITE" = 1 ]; then
    python3 bench/section.py bench/RESULTS.md bench/uploads.sh "$WORK/section.md"
else
    cat "$WORK/section.md"
fi
