#!/usr/bin/env bash
# tests/cluster/run.sh - the cluster test (tests/cluster/test_cluster.py): nginx in front of three
# souk nodes on one throwaway PostgreSQL and Redis (tests/lib/services.sh), all on loopback, with
# faults. Bounded: about a minute and a half. Prints `api[cluster]: N passed, N failed, N skipped`.
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
# 1) the cluster and its faults; 2) with a standby: reads on the replica, then failover to the
# promoted standby (ends the primary for good)
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$TMPDIR/junit1.xml" \
    -o junit_family=xunit2 "$ROOT/tests/cluster/test_cluster.py" "$@"
rc=$?
if svc_standby_start; then
    /usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$TMPDIR/junit2.xml" \
        -o junit_family=xunit2 "$ROOT/tests/cluster/test_replica.py" \
        "$ROOT/tests/cluster/test_failover.py" "$@" || rc=1
else
    rc=1
fi
/usr/bin/python3 - "$rc" "$TMPDIR/junit1.xml" "$TMPDIR/junit2.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
t = f = k = 0
for path in sys.argv[2:]:
    try:
        r = ET.parse(path).getroot()
    except Exception:
        f += 1
        continue
    for x in ([r] if r.tag == "testsuite" else r.findall("testsuite")):
        t += int(x.get("tests", 0))
        f += int(x.get("failures", 0)) + int(x.get("errors", 0))
        k += int(x.get("skipped", 0))
if sys.argv[1] != "0" and f == 0:
    f = 1
print(f"api[cluster]: {t - f - k} passed, {f} failed, {k} skipped")
PY
exit $rc
