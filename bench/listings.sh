#!/usr/bin/env bash
# bench/listings.sh - listing search with two attribute filters and a price range at
# BENCH_LISTINGS (default 1,000,000) listings, and the thread list and a message page at
# BENCH_MESSAGES (default 100,000) messages, on PostgreSQL (a throwaway cluster). Rows are made
# in bulk with SQL (generate_series), not through the API. Latency is measured by a sequential
# HTTP client (p50/p99 of BENCH_REQUESTS requests, each run bounded by 20 s); the query plan
# of the search is printed with EXPLAIN (ANALYZE, BUFFERS). Output: a Markdown section on stdout.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
N=${BENCH_LISTINGS:-1000000}
M=${BENCH_MESSAGES:-100000}
REQS=${BENCH_REQUESTS:-300}
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
SECRET=bench-secret-key-0123456789abcdef0123456789abcdef
. "$ROOT/tests/lib/services.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-listings.XXXXXX") || exit 2
SOUK_PID=
cleanup() {
    [ -n "$SOUK_PID" ] && kill "$SOUK_PID" 2>/dev/null && wait "$SOUK_PID" 2>/dev/null
    svc_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "bench: $*" >&2; exit 1; }

svc_pg_start || die "PostgreSQL did not start"
svc_pg_as_owner /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres \
    listings || die "createdb failed"
URL="postgres://postgres@127.0.0.1:$SVC_PG_PORT/listings"
PORT=$(svc_free_port)
export SOUK_DATA_DIR="$WORK/data" SOUK_DATABASE_URL="$URL" SOUK_LOG_LEVEL=warn SOUK_ACCESS_LOG=0 \
    SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=$SECRET SOUK_LISTEN="127.0.0.1:$PORT"
mkdir -p "$WORK/data"
"$SOUK_BIN" serve >"$WORK/souk.log" 2>&1 </dev/null &
SOUK_PID=$!
for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done

/usr/bin/python3 - "$PORT" "$URL" "$N" "$M" "$REQS" "$WORK" <<'PY'
import json, subprocess, sys, time, uuid, requests
port, url, n, m, reqs, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
base = f"http://127.0.0.1:{port}"
def psql(sql):
    r = subprocess.run(["psql", "-X", "-q", "-At", url, "-c", sql], capture_output=True, text=True)
    if r.returncode:
        sys.exit("psql: " + r.stderr)
    return r.stdout
def reg(role):
    e = f"{uuid.uuid4().hex[:10]}@bench.test"
    body = {"email": e, "password": "bench-password-42", "role": role}
    if role == "VENDOR":
        r = requests.post(base + "/api/chefs/register/", json={**body, "business_name": "Bench", "bio": "b"})
        return r.json()
    requests.post(base + "/api/users/register/", json=body)
    return requests.post(base + "/api/users/login/", json={"email": e, "password": "bench-password-42"}).json()
v = reg("VENDOR"); buyer = reg("CUSTOMER")
vid, vuid = v["chef"]["id"], v["user"]["id"]
t0 = time.time()
psql(f"""INSERT INTO listings (id, vendor_id, owner_id, title, description, category, price, currency,
 attributes, city, lat, lon, status, created_at, updated_at)
 SELECT gen_random_uuid(), '{vid}', '{vuid}', 'Pet ' || g, 'generated', (ARRAY['dogs','cats','birds'])[1 + g % 3],
 100 * (g % 5000), 'usd', jsonb_build_object('breed', (ARRAY['beagle','collie','poodle','husky','pug'])[1 + g % 5],
 'age', g % 20, 'vaccinated', g % 2 = 0, 'colour', (ARRAY['black','white','brown','tabby'])[1 + g % 4]),
 'City ' || (g % 100), 40 + (g % 1000) / 100.0, (g % 2000) / 100.0, 'active', 1700000000000000 + g, 1700000000000000 + g
 FROM generate_series(1, {n}) g""")
gen_l = time.time() - t0
t0 = time.time()
users = max(1, m // 100)
psql(f"""INSERT INTO users (id, email, password_hash, role, joined_at, updated_at)
 SELECT gen_random_uuid(), 'peer' || g || '-' || md5(random()::text) || '@bench.test', '!', 'CUSTOMER', 0, 0 FROM generate_series(1, {users}) g;
 CREATE TEMP TABLE peers AS SELECT id, row_number() OVER () AS k FROM users WHERE email LIKE 'peer%@bench.test';
 INSERT INTO threads (id, user_a, user_b, pair_key, last_message_at, created_at)
 SELECT gen_random_uuid(), '{buyer["user"]["id"]}', p.id, 'b:' || p.id, 1700000000000000 + p.k * 1000, 0 FROM peers p;
 INSERT INTO thread_participants (thread_id, user_id, last_message_at)
 SELECT t.id, u, t.last_message_at FROM threads t, LATERAL (VALUES (t.user_a), (t.user_b)) AS x(u) WHERE t.pair_key LIKE 'b:%';
 INSERT INTO messages (id, thread_id, sender_id, body, created_at)
 SELECT gen_random_uuid(), t.id, CASE WHEN g % 2 = 0 THEN t.user_a ELSE t.user_b END, 'message ' || g, t.last_message_at - 1000 + g
 FROM threads t, generate_series(1, 100) g WHERE t.pair_key LIKE 'b:%'""")
psql("VACUUM ANALYZE")
gen_m = time.time() - t0
tok = buyer["access"]
tid = requests.get(base + "/api/threads/", headers={"Authorization": f"Bearer {tok}"}).json()["results"][0]["id"]
def measure(path, auth):
    h = {"Authorization": f"Bearer {tok}"} if auth else {}
    lat, start, errs = [], time.time(), 0
    for _ in range(reqs):
        if time.time() - start > 20: break
        a = time.perf_counter(); r = requests.get(base + path, headers=h); lat.append((time.perf_counter() - a) * 1000)
        errs += r.status_code != 200
    lat.sort()
    return len(lat), lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], errs
search = "/api/listings/?attr.breed=beagle&attr.vaccinated=true&price_min=100.00&price_max=150.00"
rows = [("listing search: 2 attr filters + price range", search, 0),
        ("listing search + attr.age__gte=10", search + "&attr.age__gte=10", 0),
        ("thread list (signed in)", "/api/threads/", 1),
        ("message page (signed in)", f"/api/threads/{tid}/messages/", 1)]
print(f"- data: {n} listings generated in {gen_l:.1f} s; {users} threads x 100 = {users * 100} messages in {gen_m:.1f} s (one SQL statement each)")
print(f"- client: sequential python-requests, {reqs} requests per row (each row bounded by 20 s), same machine")
print()
print("| target | requests | p50 ms | p99 ms | errors |")
print("|---|---:|---:|---:|---:|")
for name, path, auth in rows:
    k, p50, p99, e = measure(path, auth)
    print(f"| {name} | {k} | {p50:.1f} | {p99:.1f} | {e} |")
print()
print("Plan of the search statement (as src/listings/search.c builds it):")
print()
print("```")
print(psql("""EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM (SELECT id, created_at, NULL AS dist, 0 AS dist_ck FROM listings WHERE 1 = 1
 AND status = 'active' AND hidden_at IS NULL AND currency = 'usd' AND price >= 10000 AND price <= 15000
 AND (attributes @> '{"breed":"beagle"}') AND (attributes @> '{"vaccinated":"true"}' OR attributes @> '{"vaccinated":true}')) AS s
 WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 21""").rstrip())
print("```")
PY
