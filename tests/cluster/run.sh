#!/usr/bin/env bash
# tests/cluster/run.sh - the cluster test (tests/cluster/test_cluster.py): nginx in front of three
# souk nodes on one throwaway PostgreSQL and Redis (tests/lib/services.sh), all on loopback, with
# faults. Bounded: about a minute and a half. Prints `cluster: N passed, N failed, N skipped`.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
export SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
command -v nginx >/dev/null || { echo "cluster: nginx is not installed" >&2; exit 2; }
# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
trap svc_stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Own PostgreSQL and Redis: the test stops and restarts them.
unset SOUK_TEST_PG_URL SOUK_TEST_REDIS_URL
svc_redis_start || exit 2
svc_pg_start || exit 2
export SOUK_TEST_DB=pgsql SOUK_TEST_PG_DATA=$SVC_PG_DATA SOUK_TEST_PG_BIN=$SVC_PG_BIN \
    SOUK_TEST_REDIS_PID=$SVC_REDIS_PID
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/souk-cluster.XXXXXX") && export TMPDIR
trap 'svc_stop_all; rm -rf "$TMPDIR"' EXIT
xml=$TMPDIR/junit.xml
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$xml" -o junit_family=xunit2 \
    "$ROOT/tests/cluster" "$@"
rc=$?
/usr/bin/python3 - "$xml" "$rc" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
    s = [r] if r.tag == "testsuite" else r.findall("testsuite")
    t = sum(int(x.get("tests", 0)) for x in s)
    f = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in s)
    k = sum(int(x.get("skipped", 0)) for x in s)
except Exception:
    t, f, k = 0, 1, 0
if sys.argv[2] != "0" and f == 0:
    f = 1
print(f"cluster: {t - f - k} passed, {f} failed, {k} skipped")
PY
exit $rc
