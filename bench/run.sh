#!/usr/bin/env bash
# bench/run.sh - wrk benchmarks of build/souk on SQLite and PostgreSQL; writes its section of
# bench/RESULTS.md (between <!-- bench/run.sh --> markers) and the file's title, leaving the
# sections of the other bench scripts as they are (bench/section.py; see bench/README.md).
#
# For each database it starts its own souk (fresh data dir; for PostgreSQL a throwaway
# cluster from tests/lib/services.sh), runs the setup step (which may create data and fill the
# placeholders used in TARGETS), then wrk against every target at every connection count.
# Loopback only. Every run is bounded: BENCH_SECONDS (default 10) per target x connections x db.
#
# Environment:
#   BENCH_SECONDS      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS  connection counts (default "64 1000")
#   BENCH_DBS          databases (default "sqlite pgsql")
#   BENCH_THREADS      wrk threads (default: nproc)
#   BENCH_OUT          results file (default bench/RESULTS.md)
#   SOUK_BIN           binary (default build/souk)
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

# ---- what is measured -------------------------------------------------------------------
# One row per target: NAME|PATH[|TOKEN]. {NAME} in a path is replaced by the value the setup
# step (bench_setup below) put in SETUP[NAME]; TOKEN names a SETUP entry holding an access
# token sent as `Authorization: Bearer` (bench/report.lua). Add rows here as resources appear.
TARGETS=(
    "healthz|/healthz"                          # process up: HTTP stack only
    "point-read|/api/chefs/{CHEF_ID}/"          # router -> worker pool -> db (profile + stats) -> JSON
    "auth-profile|/api/users/profile/|TOKEN"    # token verify + denylist check + profile read
)

# Runs once per server before the measurements; fills SETUP[...] for the TARGETS placeholders.
# $1 is the server's base URL: registers one chef through the API (user + vendor profile) and
# keeps its profile id and access token.
declare -A SETUP
bench_setup() {
    local body out
    body='{"email":"bench-chef@example.com","password":"bench-password-1","first_name":"Bench",'
    body+='"last_name":"Chef","business_name":"Bench Kitchen","bio":"benchmarks"}'
    out=$(curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" \
        "$1/api/chefs/register/") || die "bench setup: chef registration failed"
    SETUP[CHEF_ID]=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["chef"]["id"])' <<<"$out")
    SETUP[TOKEN]=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])' <<<"$out")
}

# ---- configuration ----------------------------------------------------------------------
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64 1000}
DBS=${BENCH_DBS:-sqlite pgsql}
THREADS=${BENCH_THREADS:-$(nproc)}
OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
LUA=$ROOT/bench/report.lua

# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench.XXXXXX") || exit 2
SOUK_PID=
cleanup() {
    stop_souk
    svc_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "bench: $*" >&2; exit 1; }

# 1000 connections need more than the usual 1024 descriptors (wrk and souk inherit this).
raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=65536
    [ "$hard" -gt 65536 ] && hard=65536
    ulimit -n "$hard" || die "cannot raise ulimit -n"
    [ "$(ulimit -n)" -ge 4096 ] || echo "bench: warning: ulimit -n is only $(ulimit -n)" >&2
}

start_souk() { # $1 = database url
    local port _
    port=$(svc_free_port)
    SOUK_URL=http://127.0.0.1:$port
    mkdir -p "$WORK/data-$port"
    env SOUK_DATA_DIR="$WORK/data-$port" SOUK_DATABASE_URL="$1" SOUK_LISTEN="127.0.0.1:$port" \
        SOUK_LOG_LEVEL=warn SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0 \
        SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789abcdef \
        "$SOUK_BIN" serve >"$WORK/souk-$port.log" 2>&1 </dev/null &
    SOUK_PID=$!
    for _ in $(seq 1 300); do
        curl -fs -o /dev/null "$SOUK_URL/healthz" && return 0
        kill -0 "$SOUK_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$WORK/souk-$port.log" >&2
    die "souk did not become healthy on $SOUK_URL"
}

stop_souk() {
    [ -n "$SOUK_PID" ] || return 0
    kill -TERM "$SOUK_PID" 2>/dev/null
    wait "$SOUK_PID" 2>/dev/null
    SOUK_PID=
}

# Replaces each {NAME} in $1 with SETUP[NAME].
expand() {
    local s=$1 k
    for k in "${!SETUP[@]}"; do
        s=${s//\{$k\}/${SETUP[$k]}}
    done
    [[ "$s" == *"{"* ]] && die "unfilled placeholder in $1 (see bench_setup)"
    printf '%s' "$s"
}

# Runs wrk once; appends a table row to $WORK/rows and the command to $WORK/commands.
measure() { # db name path connections [token]
    local db=$1 name=$2 path=$3 conns=$4 token=${5:-} threads=$THREADS cmd line
    [ "$threads" -gt "$conns" ] && threads=$conns
    cmd="wrk -t$threads -c$conns -d${SECONDS_PER_RUN}s --latency -s bench/report.lua $SOUK_URL$path"
    [ -n "$token" ] && cmd="BENCH_AUTH=<access token> $cmd"
    echo "bench: $db $name c=$conns: $cmd"
    echo "$cmd" >>"$WORK/commands"
    line=$(BENCH_AUTH=$token timeout $((SECONDS_PER_RUN + 60)) wrk -t"$threads" -c"$conns" \
        -d"${SECONDS_PER_RUN}s" --latency -s "$LUA" "$SOUK_URL$path" | grep '^BENCH ')
    [ -n "$line" ] || die "wrk printed no BENCH line for $SOUK_URL$path"
    echo "  $line"
    awk -v db="$db" -v name="$name" -v path="$path" -v c="$conns" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        err = v["errors_connect"] + v["errors_read"] + v["errors_write"] + v["errors_status"] + v["errors_timeout"]
        printf "| %s | %s `%s` | %d | %.0f | %.2f | %.2f | %d |\n", db, name, path, c, v["rps"],
            v["p50_us"] / 1000, v["p99_us"] / 1000, err
    }' <<<"$line" >>"$WORK/rows"
}

bench_db() { # db
    local db=$1 url row name path conns
    case "$db" in
        sqlite) url="sqlite:///$WORK/bench-sqlite.db" ;;
        pgsql) svc_pg_start || die "PostgreSQL did not start"; url=$SOUK_TEST_PG_URL ;;
        *) die "unknown database $db" ;;
    esac
    start_souk "$url"
    bench_setup "$SOUK_URL"
    local rest tokname token
    for row in "${TARGETS[@]}"; do
        name=${row%%|*}
        rest=${row#*|}
        tokname=
        [[ "$rest" == *"|"* ]] && { tokname=${rest#*|}; rest=${rest%%|*}; }
        path=$(expand "$rest") || exit 1
        token=
        [ -n "$tokname" ] && token=${SETUP[$tokname]}
        for conns in $CONNECTIONS; do
            measure "$db" "$name" "$path" "$conns" "$token"
        done
    done
    stop_souk
}

machine() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "- machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr)"
}

commit() {
    local c
    c=$(git rev-parse --short HEAD 2>/dev/null) || c="(no commit)"
    [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && c="$c + local changes"
    echo "$c"
}

# The title and introduction of the results file: run.sh owns what comes before the first
# marked section (see bench/README.md, "Results file").
write_head() {
    echo "# souk benchmark results"
    echo
    echo "Each section below is written by one script and replaced only by that script, between"
    echo "HTML comment markers named after it; bench/README.md says what each one measures."
}

write_section() {
    echo "## HTTP stack and point reads (bench/run.sh)"
    echo
    echo "Written by \`make bench\`; bench/README.md says what is measured."
    echo
    machine
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $(commit)"
    echo "- wrk: $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2), ${SECONDS_PER_RUN}s per run," \
         "$THREADS threads (at most one per connection), client and server on the same machine"
    echo "- server: \`souk serve\` with SOUK_LOG_LEVEL=warn SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0," \
         "other settings default; PostgreSQL 15 throwaway cluster with fsync=off"
    echo
    echo "| database | target | connections | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    cat "$WORK/rows"
    echo
    echo "Commands (the URL's port changes from run to run):"
    echo
    echo '```'
    echo "BENCH_SECONDS=$SECONDS_PER_RUN make bench"
    cat "$WORK/commands"
    echo '```'
}

# Replaces only this script's section of $OUT (and the head); other scripts' sections stay.
write_results() {
    write_head >"$WORK/head.md"
    write_section >"$WORK/section.md"
    if ! /usr/bin/python3 "$ROOT/bench/section.py" "$OUT" bench/run.sh "$WORK/section.md" \
        --head "$WORK/head.md"; then
        cat "$WORK/section.md" >&2 # the measurements are not lost
        die "could not update $OUT (see above)"
    fi
}

main() {
    [ -x "$SOUK_BIN" ] || die "$SOUK_BIN not found (run make)"
    command -v wrk >/dev/null || die "wrk not installed (scripts/deps.sh)"
    raise_fd_limit
    : >"$WORK/rows"
    : >"$WORK/commands"
    for db in $DBS; do
        bench_db "$db"
    done
    write_results
    echo "bench: wrote $OUT"
}

main
