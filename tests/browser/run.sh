#!/usr/bin/env bash
# tests/browser/run.sh - the admin console's browser tests (admin.test.js): installs the pinned
# playwright-core (npm ci), starts its own souk on SQLite on a free loopback port with test job
# kinds and two staff accounts, runs the tests with Debian's chromium, stops souk. The last line
# is `N passed, N failed`. Environment: SOUK_BIN (default build/souk), SCREENSHOT_DIR (default:
# none; docs/screenshots to refresh the README's pictures).
set -u
cd "$(dirname "$0")" || exit 2
HERE=$PWD
ROOT=$(cd ../.. && pwd)
BIN=${SOUK_BIN:-$ROOT/build/souk}
fail() { echo "browser: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || fail "no souk binary at $BIN (run make)"
[ -x /usr/bin/chromium ] || fail "no /usr/bin/chromium (scripts/deps.sh installs it)"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null || fail "npm ci failed"
fi

DATA=$(mktemp -d "${TMPDIR:-/tmp}/souk-browser.XXXXXX") || exit 2
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SOUK_DATA_DIR=$DATA SOUK_LISTEN=127.0.0.1:$PORT SOUK_PUBLIC_URL=http://127.0.0.1:$PORT \
    SOUK_TEST_JOBS=1 SOUK_JOB_WORKERS=2 SOUK_JOB_BACKOFF_BASE_MS=200 SOUK_RATE_LIMIT_RPS=0
unset SOUK_DATABASE_URL SOUK_REDIS_URL
SOUK_PID=
cleanup() {
    if [ -n "$SOUK_PID" ]; then
        kill -TERM "$SOUK_PID" 2>/dev/null
        wait "$SOUK_PID" 2>/dev/null
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

export STAFF_PASSWORD=browser-test-pass-42
export ADMIN_EMAIL=admin-browser@example.com MODERATOR_EMAIL=moderator-browser@example.com
"$BIN" migrate >"$DATA/migrate.log" 2>&1 || fail "souk migrate failed"
"$BIN" createuser --email "$ADMIN_EMAIL" --password "$STAFF_PASSWORD" --role ADMIN >/dev/null 2>&1 \
    && "$BIN" createuser --email "$MODERATOR_EMAIL" --password "$STAFF_PASSWORD" --role MODERATOR \
    >/dev/null 2>&1 || fail "souk createuser failed"
"$BIN" serve >"$DATA/souk.log" 2>&1 &
SOUK_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { tail -20 "$DATA/souk.log"; fail "souk did not start"; }

export SOUK_URL=http://127.0.0.1:$PORT
[ -n "${SCREENSHOT_DIR:-}" ] && mkdir -p "$SCREENSHOT_DIR" && export SCREENSHOT_DIR
timeout 300 node "$HERE/admin.test.js"
rc=$?
[ "$rc" -ne 0 ] && { echo "---- souk log (tail) ----" >&2; tail -30 "$DATA/souk.log" >&2; }
exit "$rc"
