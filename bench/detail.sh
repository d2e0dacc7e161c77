#!/usr/bin/env bash
# bench/detail.sh [BIN ...] - signed-in reads of one recipe's detail (GET /api/recipes/{id}/) on a
# throwaway PostgreSQL 15 (tests/lib/services.sh, fsync off): for each binary given (default
# build/souk), a fresh database, one chef with one free recipe, one signed-in reader, wrk -t2 -c64
# -d5s. Give two binaries (before and after a change), twice each, to compare them alternately.
# Loopback only; every server is stopped by PID. Prints "binary req/s p50 p99 [non-2xx]" lines.
set -u
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=tests/lib/services.sh
. tests/lib/services.sh
trap svc_stop_all EXIT
svc_pg_start >/dev/null 2>&1 || { echo "bench: PostgreSQL did not start" >&2; exit 1; }
[ $# -gt 0 ] || set -- "$PWD/build/souk"
for BIN in "$@"; do
W=$(mktemp -d); PORT=$(svc_free_port)
name="d$RANDOM$RANDOM"; psql -X -q "$SOUK_TEST_PG_URL" -c "CREATE DATABASE $name" >/dev/null
SOUK_DATA_DIR=$W SOUK_DATABASE_URL="${SOUK_TEST_PG_URL%/*}/$name" SOUK_LISTEN=127.0.0.1:$PORT SOUK_RATE_LIMIT_RPS=0 SOUK_ACCESS_LOG=0 SOUK_LOG_LEVEL=warn SOUK_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 $BIN serve > $W/log 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "http://127.0.0.1:$PORT" > $W/out <<'PY'
import sys, uuid, requests
base = sys.argv[1]
s = requests.Session()
c = s.post(base + "/api/chefs/register/", json={"email": f"c{uuid.uuid4().hex[:8]}@bench.test","password": "bench-password-42", "business_name": "Bench", "bio": "b"}).json()
h = {"Authorization": "Bearer " + c["access"]}
rid = s.post(base + "/api/recipes/", headers=h, json={"title": "Curry", "summary": "s","ingredients": ["x"], "instructions": "y", "cuisine": "thai", "dietary": [],"difficulty": "easy", "cook_minutes": 10, "is_premium": False}).json()["id"]
e = f"r{uuid.uuid4().hex[:8]}@bench.test"
s.post(base + "/api/users/register/", json={"email": e, "password": "bench-password-42"})
print(s.post(base + "/api/users/login/", json={"email": e, "password": "bench-password-42"}).json()["access"], rid)
PY
read TOKEN RID < $W/out
echo "$BIN: $(wrk -t2 -c64 -d5s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/recipes/$RID/" | awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$0} END {print r, p50, p99, e}')"
kill $PID; wait $PID; rm -rf $W
done
