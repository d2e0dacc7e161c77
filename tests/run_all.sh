#!/usr/bin/env bash
# tests/run_all.sh - every test souk has; what `make test` and CI (.ci/run) run.
#
# Phases, in order, each with a header line and a time limit:
#   build           make
#   lint            make lint (cppcheck, scripts/check_layers.py, scripts/check_function_length.py)
#   unit            make unit
#   api-sqlite      tests/run_api.sh sqlite       (build/souk)     \ these two run side by side
#   api-pgsql       tests/run_api.sh pgsql        (build/souk)     / (SOUK_TEST_SERIAL=1: one by one)
#   api-pgbouncer   tests/run_api.sh pgbouncer on a slice (PGBOUNCER_SLICE below; ~3 min)
#   cluster         tests/cluster/run.sh: nginx + 3 nodes, faults (own PostgreSQL/Redis; ~1 min)
#   browser         tests/browser/run.sh          (the admin console in chromium, Playwright)
#   fuzz            make fuzz-run, FUZZ_SECONDS=5 (skipped, with a message, until fuzz/fuzz.mk exists)
#   asan-build      make asan                     (build/asan: AddressSanitizer + UBSan)
#   asan-unit       make V=asan unit              \  with ASAN_OPTIONS=detect_leaks=1 and
#   asan-api-sqlite tests/run_api.sh sqlite        > UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
#   asan-api-pgsql  tests/run_api.sh pgsql        /  (build/asan/souk; side by side too)
#
# One throwaway PostgreSQL 15 cluster and one Redis (tests/lib/services.sh) serve every phase;
# SOUK_TEST_PG_URL and SOUK_TEST_REDIS_URL are exported. Everything started here is stopped on
# exit, including on failure and Ctrl-C. The last line is `summary: N passed, N failed` (unit
# tests + API tests; a phase that fails without counting a test, such as the build, counts as
# one failure), and the exit status is non-zero when anything failed.
#
# Environment: SOUK_TEST_PHASES="unit api-sqlite" runs only the phases named (build always runs).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
# The API tests run through pgbouncer in CI (the whole suite: tests/run_api.sh pgbouncer).
PGBOUNCER_SLICE="tests/api/test_foundation.py tests/api/test_identity.py tests/api/test_orders.py
    tests/api/test_auctions.py tests/api/test_jobs.py tests/api/test_notifications.py tests/api/test_proxy.py"
JOBS=$(nproc 2>/dev/null || echo 2)

# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"

LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/souk-test-logs.XXXXXX") || exit 2
PHASE_PID=
PAIR_PIDS=
TAIL_PID=
TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_PHASES=()
T0=$(date +%s)

cleanup() {
    [ -n "$PHASE_PID" ] && kill -TERM "$PHASE_PID" 2>/dev/null && wait "$PHASE_PID" 2>/dev/null
    for p in $PAIR_PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $PAIR_PIDS; do wait "$p" 2>/dev/null; done
    [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
    svc_stop_all
    rm -rf "$LOG_DIR"
}
trap cleanup EXIT
trap 'echo "run_all: interrupted" >&2; exit 130' INT
trap 'echo "run_all: terminated" >&2; exit 143' TERM

wanted() {
    [ -z "${SOUK_TEST_PHASES:-}" ] && return 0
    [[ " $SOUK_TEST_PHASES " == *" $1 "* ]]
}

# run_phase NAME SECONDS CMD...: runs CMD under `timeout`, its output both shown and kept in
# $LOG_DIR/NAME.log. Runs in the background so that a signal reaches our traps at once (timeout
# makes its own process group; killing it signals the whole group). Returns CMD's status.
run_phase() {
    local name=$1 secs=$2 rc start
    shift 2
    start=$(date +%s)
    echo
    echo "==== [$name] $* (limit ${secs}s) ===="
    : >"$LOG_DIR/$name.log"
    timeout -k 15 "$secs" "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
    PHASE_PID=$!
    tail -n +1 -f --pid="$PHASE_PID" "$LOG_DIR/$name.log" &
    TAIL_PID=$!
    wait "$PHASE_PID"
    rc=$?
    PHASE_PID=
    wait "$TAIL_PID" 2>/dev/null
    TAIL_PID=
    [ "$rc" -eq 124 ] && echo "run_all: [$name] timed out after ${secs}s" >&2
    echo "==== [$name] exit $rc in $(($(date +%s) - start))s ===="
    return "$rc"
}

# Adds `P passed, F failed` counts to the totals; a failed phase counts at least one failure.
count() {
    local name=$1 rc=$2 passed=$3 failed=$4
    if [ "$rc" -ne 0 ]; then
        [ "$failed" -eq 0 ] && failed=1
        FAILED_PHASES+=("$name")
    fi
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

# Sums the numbers captured by a sed -n 's/RE/\1/p' expression over a phase log.
log_sum() {
    sed -n "$2" "$LOG_DIR/$1.log" | awk '{ s += $1 } END { print s + 0 }'
}

# A phase that runs no tests of its own: it passes or counts as one failure.
step() {
    local name=$1 rc
    run_phase "$@"
    rc=$?
    count "$name" "$rc" 0 0
    return "$rc"
}

# Unit tests: cmocka's `[  PASSED  ] N test(s).` / `[  FAILED  ] N test(s)` lines, and
# run_unit.sh's `unit: P passed, F failed` (binaries) so that a crashed binary counts too.
unit_phase() {
    local name=$1 rc passed failed bins_failed
    run_phase "$@"
    rc=$?
    passed=$(log_sum "$name" 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
    failed=$(log_sum "$name" 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
    bins_failed=$(log_sum "$name" 's/^unit: [0-9]* passed, \([0-9]*\) failed.*/\1/p')
    [ "$bins_failed" -gt "$failed" ] && failed=$bins_failed
    count "$name" "$rc" "$passed" "$failed"
}

# API tests: run_api.sh's `api[DB]: P passed, F failed, S skipped` line.
api_phase() {
    run_phase "$@"
    api_count "$1" $?
}

api_count() { # NAME RC
    local passed failed
    passed=$(log_sum "$1" 's/^api\[[a-z]*\]: \([0-9]*\) passed.*/\1/p')
    failed=$(log_sum "$1" 's/^api\[[a-z]*\]: [0-9]* passed, \([0-9]*\) failed.*/\1/p')
    count "$1" "$2" "$passed" "$failed"
}

# api_pair SECONDS BIN NAME_SQLITE NAME_PGSQL: the API tests on SQLite and on PostgreSQL at the
# same time (every test server has its own data folder or database, so they share nothing but
# the machine), then both logs one after the other. SOUK_TEST_SERIAL=1 runs them one by one.
api_pair() {
    local secs=$1 bin=$2 n1=$3 n2=$4 start rc1 rc2 p1 p2
    if [ -n "${SOUK_TEST_SERIAL:-}" ] || ! wanted "$n1" || ! wanted "$n2"; then
        wanted "$n1" && api_phase "$n1" "$secs" env SOUK_BIN="$bin" tests/run_api.sh sqlite
        wanted "$n2" && api_phase "$n2" "$secs" env SOUK_BIN="$bin" tests/run_api.sh pgsql
        return 0
    fi
    start=$(date +%s)
    echo
    echo "==== [$n1 + $n2] tests/run_api.sh sqlite and pgsql side by side, SOUK_BIN=$bin (limit ${secs}s) ===="
    timeout -k 15 "$secs" env SOUK_BIN="$bin" tests/run_api.sh sqlite >"$LOG_DIR/$n1.log" 2>&1 </dev/null &
    p1=$!
    timeout -k 15 "$secs" env SOUK_BIN="$bin" tests/run_api.sh pgsql >"$LOG_DIR/$n2.log" 2>&1 </dev/null &
    p2=$!
    PAIR_PIDS="$p1 $p2"
    wait "$p1"
    rc1=$?
    wait "$p2"
    rc2=$?
    PAIR_PIDS=
    for n in "$n1" "$n2"; do
        echo "---- [$n] output ----"
        cat "$LOG_DIR/$n.log"
    done
    echo "==== [$n1] exit $rc1, [$n2] exit $rc2, in $(($(date +%s) - start))s ===="
    api_count "$n1" "$rc1"
    api_count "$n2" "$rc2"
}

# Browser tests: tests/browser/run.sh's last line `P passed, F failed`.
browser_phase() {
    local passed failed rc
    wanted browser || return 0
    run_phase browser 420 env SOUK_BIN="$ROOT/build/souk" tests/browser/run.sh
    rc=$?
    passed=$(log_sum browser 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p')
    failed=$(log_sum browser 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p')
    count browser "$rc" "$passed" "$failed"
}

fuzz_phase() {
    wanted fuzz || return 0
    if [ ! -f fuzz/fuzz.mk ]; then
        echo
        echo "==== [fuzz] skipped: fuzz/fuzz.mk does not exist yet ===="
        return 0
    fi
    step fuzz 600 env FUZZ_SECONDS=${FUZZ_SECONDS:-5} make --no-print-directory fuzz-run
}

start_services() {
    echo "==== [services] PostgreSQL 15 and Redis ===="
    svc_pg_start && svc_redis_start
}

summary() {
    echo
    [ ${#FAILED_PHASES[@]} -gt 0 ] && echo "failed phases: ${FAILED_PHASES[*]}"
    echo "total time: $(($(date +%s) - T0))s"
    echo "summary: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
}

main() {
    if ! step build 900 make --no-print-directory -j"$JOBS"; then
        summary; return 1
    fi
    if ! start_services; then
        count services 1 0 1; summary; return 1
    fi
    wanted lint && step lint 300 make --no-print-directory lint
    wanted unit && unit_phase unit 600 make --no-print-directory -j"$JOBS" unit
    api_pair 1200 "$ROOT/build/souk" api-sqlite api-pgsql
    wanted api-pgbouncer && api_phase api-pgbouncer 600 tests/run_api.sh pgbouncer $PGBOUNCER_SLICE
    wanted cluster && api_phase cluster 300 tests/cluster/run.sh
    browser_phase
    fuzz_phase

    if wanted asan-build || wanted asan-unit || wanted asan-api-sqlite || wanted asan-api-pgsql; then
        if step asan-build 1200 make --no-print-directory -j"$JOBS" asan; then
            export ASAN_OPTIONS=detect_leaks=1
            export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
            wanted asan-unit && unit_phase asan-unit 900 make --no-print-directory V=asan unit
            api_pair 1800 "$ROOT/build/asan/souk" asan-api-sqlite asan-api-pgsql
        fi
    fi
    summary
    [ "$TOTAL_FAILED" -eq 0 ] && [ ${#FAILED_PHASES[@]} -eq 0 ]
}

main
