#!/usr/bin/env bash
# tests/run_api.sh [sqlite|pgsql|pgbouncer|all] [pytest args...] - black-box HTTP tests (tests/api).
#
# `pgbouncer` runs the pgsql tests with every server going through pgbouncer in transaction
# pooling mode (tests/lib/services.sh starts it) and SOUK_DB_PREPARED=0; databases are still
# created on the cluster directly. It is not part of `all`.
#
# Runs Debian's pytest (/usr/bin/python3 -m pytest tests/api -q) against the binary in
# SOUK_BIN (default build/souk) with SOUK_TEST_DB=sqlite or pgsql. The default is `all`.
# For pgsql it uses the cluster in SOUK_TEST_PG_URL, or starts a throwaway one itself
# (tests/lib/services.sh) so that `make api DB=pgsql` works on its own. Likewise Redis:
# SOUK_TEST_REDIS_URL is started here when missing.
#
# After each database it prints one line `api[DB]: N passed, N failed, N skipped` (counted from
# pytest's junit xml), which tests/run_all.sh adds up. Exit status is non-zero when any test
# failed or errored, when pytest collected no tests (exit code 5), or when pytest crashed.
#
# Extra arguments go to pytest, e.g. `tests/run_api.sh sqlite -k healthz -x` or
# `tests/run_api.sh pgsql tests/api/test_foundation.py` (a path replaces the default tests/api).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD

which_db=${1:-all}
[ $# -gt 0 ] && shift
case "$which_db" in
    sqlite) dbs="sqlite" ;;
    pgsql) dbs="pgsql" ;;
    pgbouncer) dbs="pgbouncer" ;;
    all) dbs="sqlite pgsql" ;;
    *) echo "usage: $0 [sqlite|pgsql|pgbouncer|all] [pytest args...]" >&2; exit 2 ;;
esac

SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
case "$SOUK_BIN" in /*) ;; *) SOUK_BIN=$ROOT/$SOUK_BIN ;; esac
if [ ! -x "$SOUK_BIN" ]; then
    echo "run_api: $SOUK_BIN does not exist or is not executable (run make first)" >&2
    exit 2
fi
export SOUK_BIN

# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${SOUK_TEST_REDIS_URL:-}" ]; then
    svc_redis_start || exit 2
fi
if [[ " $dbs " == *" pg"* ]] && [ -z "${SOUK_TEST_PG_URL:-}" ]; then
    svc_pg_start || exit 2
fi
if [ "$dbs" = pgbouncer ] && [ -z "${SOUK_TEST_PGBOUNCER_URL:-}" ]; then
    svc_pgbouncer_start || exit 2
fi

REPORT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/souk-api.XXXXXX") || exit 2
trap 'rm -rf "$REPORT_DIR"; svc_stop_all' EXIT
# Everything the tests create (servers' data dirs, pytest's tmp_path) goes under REPORT_DIR,
# so that nothing is left behind even when pytest is killed before its teardown.
mkdir -p "$REPORT_DIR/tmp"
export TMPDIR="$REPORT_DIR/tmp"

# Prints "passed failed skipped" from a junit xml file (empty output if it is unreadable).
junit_counts() {
    /usr/bin/python3 - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = failed = skipped = 0
for s in suites:
    tests += int(s.get("tests", 0))
    failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
    skipped += int(s.get("skipped", 0))
print(tests - failed - skipped, failed, skipped)
EOF
}

# Runs pytest for one database; prints the summary line; returns 0 only on success.
run_db() {
    local db=$1 xml="$REPORT_DIR/junit-$1.xml" rc counts passed failed skipped
    shift
    echo "== api tests on $db ($SOUK_BIN)"
    local kind=$db
    [ "$db" = pgbouncer ] && kind=pgsql
    SOUK_TEST_DB=$kind /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        --junitxml="$xml" -o junit_family=xunit2 "$@"
    rc=$?
    counts=$(junit_counts "$xml")
    read -r passed failed skipped <<<"${counts:-0 0 0}"
    if [ "$rc" -eq 5 ]; then
        echo "run_api: pytest collected no tests on $db: that is a failure" >&2
        failed=$((failed + 1))
    elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "run_api: pytest exited with $rc on $db without a failed test (crash or usage error)" >&2
        failed=1
    fi
    echo "api[$db]: $passed passed, $failed failed, $skipped skipped"
    [ "$rc" -eq 0 ]
}

# Test files or directories among the arguments replace the default tests/api.
targets=("$ROOT/tests/api")
for a in "$@"; do
    case "$a" in -*) ;; *) [ -e "$a" ] && targets=() ;; esac
done

status=0
for db in $dbs; do
    run_db "$db" "${targets[@]}" "$@" || status=1
done
exit $status
