#!/usr/bin/env bash
# bench/listings.sh - listing search with two attribute filters and a price range at
# BENCH_LISTINGS (default 1,000,000) listings, and the thread list and a message page at
# BENCH_MESSAGES (default 100,000) messages, on PostgreSQL (a throwaway cluster) and/or SQLite
# (souk's embedded default, a file in the work dir): BENCH_DB=sqlite|pgsql|both (default both).
# For each database: start `build/souk serve` (it migrates), register a vendor and a buyer through
# the API, make the rows in bulk with SQL (generate_series; psql on PostgreSQL, the sqlite3 CLI on
# SQLite with souk stopped, then ANALYZE and souk restarted), not through the API. Latency is
# measured by a sequential HTTP client (p50/p99 of BENCH_REQUESTS requests, each run bounded by
# 20 s); the query plan of the search statement (as src/listings/search.c builds it for that
# dialect) is printed with EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL and EXPLAIN QUERY PLAN on
# SQLite. Every step is bounded (server start 30 s, bulk SQL 30 min, each request 30 s).
# Everything listens on 127.0.0.1 only. Output: one Markdown section per database on stdout.
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
N=${BENCH_LISTINGS:-1000000}
M=${BENCH_MESSAGES:-100000}
REQS=${BENCH_REQUESTS:-300}
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
SECRET=bench-secret-key-0123456789abcdef0123456789abcdef
die() { echo "bench: $*" >&2; exit 1; }
case ${BENCH_DB:-both} in
    sqlite) DBS=sqlite ;;
    pgsql) DBS=pgsql ;;
    both) DBS="pgsql sqlite" ;;
    *) die "BENCH_DB must be sqlite, pgsql or both" ;;
esac
[ -x "$SOUK_BIN" ] || die "no $SOUK_BIN (run make)"
. "$ROOT/tests/lib/services.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-listings.XXXXXX") || exit 2
SOUK_PID=
PORT=

# Stops the souk this script started (by its PID): SIGTERM, then SIGKILL after 10 s.
souk_stop() {
    local _ st
    [ -n "$SOUK_PID" ] || return 0
    kill "$SOUK_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        st=$(ps -o stat= -p "$SOUK_PID" 2>/dev/null)
        case $st in "" | Z*) break ;; esac
        sleep 0.1
    done
    kill -9 "$SOUK_PID" 2>/dev/null
    wait "$SOUK_PID" 2>/dev/null
    SOUK_PID=
}
cleanup() {
    souk_stop
    svc_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts souk on a new free port against $1 and waits (30 s at most) for /healthz.
souk_start() {
    local _
    PORT=$(svc_free_port) || return 1
    SOUK_DATA_DIR="$WORK/data" SOUK_DATABASE_URL="$1" SOUK_LOG_LEVEL=warn SOUK_ACCESS_LOG=0 \
        SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=$SECRET SOUK_LISTEN="127.0.0.1:$PORT" \
        "$SOUK_BIN" serve >>"$WORK/souk.log" 2>&1 </dev/null &
    SOUK_PID=$!
    for _ in $(seq 1 300); do
        curl -fs -m 1 -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
        kill -0 "$SOUK_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$WORK/souk.log" >&2
    return 1
}

cat >"$WORK/bench.py" <<'PY'
import json, os, sqlite3, subprocess, sys, time, uuid, requests
TIMEOUT = 30          # one HTTP request
SQL_TIMEOUT = 1800    # one bulk SQL step
phase, db, target, state_path = sys.argv[1:5]

def load():
    with open(state_path) as f:
        return json.load(f)
def save(st):
    with open(state_path, "w") as f:
        json.dump(st, f)

def psql(sql):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", target, "-c", sql],
                       capture_output=True, text=True, timeout=SQL_TIMEOUT)
    if r.returncode:
        sys.exit("psql: " + r.stderr)
    return r.stdout
def sqlite_cli(sql):
    r = subprocess.run(["/usr/bin/sqlite3", "-bail", target], input=sql, capture_output=True,
                       text=True, timeout=SQL_TIMEOUT)
    if r.returncode or r.stderr:
        sys.exit("sqlite3: " + r.stderr)
    return r.stdout

def register(base):
    def reg(role):
        e = f"{uuid.uuid4().hex[:10]}@bench.test"
        body = {"email": e, "password": "bench-password-42", "role": role}
        if role == "VENDOR":
            r = requests.post(base + "/api/chefs/register/", timeout=TIMEOUT,
                              json={**body, "business_name": "Bench", "bio": "b"})
            r.raise_for_status()
            return r.json()
        requests.post(base + "/api/users/register/", json=body, timeout=TIMEOUT).raise_for_status()
        return {"email": e, **login(base, e)}
    v = reg("VENDOR"); buyer = reg("CUSTOMER")
    save({"vid": v["chef"]["id"], "vuid": v["user"]["id"], "buyer_id": buyer["user"]["id"],
          "buyer_email": buyer["email"]})

def login(base, email):
    r = requests.post(base + "/api/users/login/", timeout=TIMEOUT,
                      json={"email": email, "password": "bench-password-42"})
    r.raise_for_status()
    return r.json()

# ---- bulk rows: the same shapes on both databases ------------------------------------------

PG_LISTINGS = """INSERT INTO listings (id, vendor_id, owner_id, title, description, category, price, currency,
 attributes, city, lat, lon, status, created_at, updated_at)
 SELECT gen_random_uuid(), '{vid}', '{vuid}', 'Pet ' || g, 'generated', (ARRAY['dogs','cats','birds'])[1 + g % 3],
 100 * (g % 5000), 'usd', jsonb_build_object('breed', (ARRAY['beagle','collie','poodle','husky','pug'])[1 + g % 5],
 'age', g % 20, 'vaccinated', g % 2 = 0, 'colour', (ARRAY['black','white','brown','tabby'])[1 + g % 4]),
 'City ' || (g % 100), 40 + (g % 1000) / 100.0, (g % 2000) / 100.0, 'active', 1700000000000000 + g, 1700000000000000 + g
 FROM generate_series(1, {n}) g"""
PG_MESSAGES = """INSERT INTO users (id, email, password_hash, role, joined_at, updated_at)
 SELECT gen_random_uuid(), 'peer' || g || '-' || md5(random()::text) || '@bench.test', '!', 'CUSTOMER', 0, 0 FROM generate_series(1, {users}) g;
 CREATE TEMP TABLE peers AS SELECT id, row_number() OVER () AS k FROM users WHERE email LIKE 'peer%@bench.test';
 INSERT INTO threads (id, user_a, user_b, pair_key, last_message_at, created_at)
 SELECT gen_random_uuid(), '{buyer}', p.id, 'b:' || p.id, 1700000000000000 + p.k * 1000, 0 FROM peers p;
 INSERT INTO thread_participants (thread_id, user_id, last_message_at)
 SELECT t.id, u, t.last_message_at FROM threads t, LATERAL (VALUES (t.user_a), (t.user_b)) AS x(u) WHERE t.pair_key LIKE 'b:%';
 INSERT INTO messages (id, thread_id, sender_id, body, created_at)
 SELECT gen_random_uuid(), t.id, CASE WHEN g % 2 = 0 THEN t.user_a ELSE t.user_b END, 'message ' || g, t.last_message_at - 1000 + g
 FROM threads t, generate_series(1, 100) g WHERE t.pair_key LIKE 'b:%'"""

# SQLite: ids are text UUIDs (lower-case, v4 shape here; souk makes v7), booleans in JSON are
# true/false (json('true')), attributes is JSON text. One transaction per step.
UUID = ("lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
        " || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-'"
        " || hex(randomblob(6)))")
def pick(expr, words):
    return "(CASE " + expr + " " + " ".join(f"WHEN {i} THEN '{w}'" for i, w in enumerate(words)) + " END)"
SQ_PRAGMAS = "PRAGMA cache_size = -262144;\n"
SQ_LISTINGS = SQ_PRAGMAS + f"""BEGIN;
INSERT INTO listings (id, vendor_id, owner_id, title, description, category, price, currency,
 attributes, city, lat, lon, status, created_at, updated_at)
 SELECT {UUID}, '{{vid}}', '{{vuid}}', 'Pet ' || g, 'generated', {pick('g % 3', ['dogs', 'cats', 'birds'])},
 100 * (g % 5000), 'usd', json_object('breed', {pick('g % 5', ['beagle', 'collie', 'poodle', 'husky', 'pug'])},
 'age', g % 20, 'vaccinated', json(CASE WHEN g % 2 = 0 THEN 'true' ELSE 'false' END),
 'colour', {pick('g % 4', ['black', 'white', 'brown', 'tabby'])}),
 'City ' || (g % 100), 40 + (g % 1000) / 100.0, (g % 2000) / 100.0, 'active', 1700000000000000 + g, 1700000000000000 + g
 FROM (SELECT value AS g FROM generate_series(1, {{n}}));
COMMIT;
"""
SQ_MESSAGES = SQ_PRAGMAS + f"""BEGIN;
INSERT INTO users (id, email, password_hash, role, joined_at, updated_at)
 SELECT {UUID}, 'peer' || value || '-' || lower(hex(randomblob(8))) || '@bench.test', '!', 'CUSTOMER', 0, 0
 FROM generate_series(1, {{users}});
CREATE TEMP TABLE peers AS SELECT id, row_number() OVER () AS k FROM users WHERE email LIKE 'peer%@bench.test';
INSERT INTO threads (id, user_a, user_b, pair_key, last_message_at, created_at)
 SELECT {UUID}, '{{buyer}}', p.id, 'b:' || p.id, 1700000000000000 + p.k * 1000, 0 FROM peers p;
INSERT INTO thread_participants (thread_id, user_id, last_message_at)
 SELECT id, user_a, last_message_at FROM threads WHERE pair_key LIKE 'b:%'
 UNION ALL SELECT id, user_b, last_message_at FROM threads WHERE pair_key LIKE 'b:%';
INSERT INTO messages (id, thread_id, sender_id, body, created_at)
 SELECT {UUID}, t.id, CASE WHEN g.value % 2 = 0 THEN t.user_a ELSE t.user_b END, 'message ' || g.value,
 t.last_message_at - 1000 + g.value
 FROM threads t, generate_series(1, 100) g WHERE t.pair_key LIKE 'b:%';
COMMIT;
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
"""

def fill(n, m):
    st = load()
    users = max(1, m // 100)
    run = psql if db == "pgsql" else sqlite_cli
    t0 = time.time()
    run((PG_LISTINGS if db == "pgsql" else SQ_LISTINGS).format(n=n, vid=st["vid"], vuid=st["vuid"]))
    st["gen_l"] = time.time() - t0
    t0 = time.time()
    run((PG_MESSAGES if db == "pgsql" else SQ_MESSAGES).format(users=users, buyer=st["buyer_id"]))
    if db == "pgsql":
        psql("VACUUM ANALYZE")
    st["gen_m"], st["n"], st["users"] = time.time() - t0, n, users
    save(st)

# ---- the search statement, as src/listings/search.c builds it -------------------------------

COLS = ("id, vendor_id, owner_id, title, description, category, attributes, city, price, "
        "currency, lat, lon, status, hidden_at, created_at, updated_at")
PG_PLAN = """EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM (SELECT id, created_at, NULL AS dist, 0 AS dist_ck FROM listings WHERE 1 = 1
 AND status = 'active' AND hidden_at IS NULL AND currency = 'usd' AND price >= 10000 AND price <= 15000
 AND (attributes @> '{"breed":"beagle"}') AND (attributes @> '{"vaccinated":"true"}' OR attributes @> '{"vaccinated":true}')) AS s
 WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 21"""
# plain_filters (status/hidden, currency, price_min, price_max), then attr_eq_sqlite for
# attr.breed=beagle (text only) and attr.vaccinated=true (text or JSON true), then order_by.
SQ_SEARCH = ("SELECT * FROM (SELECT " + COLS + ", NULL AS dist, 0 AS dist_ck FROM listings WHERE 1 = 1"
             " AND status = 'active' AND hidden_at IS NULL AND currency = $1 AND price >= $2 AND price <= $3"
             " AND ((json_type(attributes, $4) = 'text' AND json_extract(attributes, $4) = $5))"
             " AND ((json_type(attributes, $6) = 'text' AND json_extract(attributes, $6) = $7)"
             " OR json_type(attributes, $6) = 'true')) AS s WHERE 1 = 1"
             " ORDER BY created_at DESC, id DESC LIMIT 21")
SQ_PARAMS = {"1": "usd", "2": 10000, "3": 15000, "4": '$."breed"', "5": "beagle",
             "6": '$."vaccinated"', "7": "true"}

def sqlite_plan():
    con = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    out = ["EXPLAIN QUERY PLAN " + SQ_SEARCH, "-- $1..$7 = " + ", ".join(repr(SQ_PARAMS[str(i)]) for i in range(1, 8)), ""]
    rows = con.execute("EXPLAIN QUERY PLAN " + SQ_SEARCH, SQ_PARAMS).fetchall()
    depth = {0: 0}
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        out.append("  " * (depth[node] - 1) + ("`--" if depth[node] else "") + detail)
    best, got = None, 0
    for _ in range(3):
        a = time.perf_counter(); got = len(con.execute(SQ_SEARCH, SQ_PARAMS).fetchall())
        best = min(best or 1e9, (time.perf_counter() - a) * 1000)
    con.close()
    out += ["", f"-- run directly (Python sqlite3 {sqlite3.sqlite_version}, same file): {got} rows, best of 3 {best:.1f} ms"]
    return "\n".join(out)

# ---- measurement ---------------------------------------------------------------------------

def measure_all(base, reqs, load_before):
    st = load()
    tok = login(base, st["buyer_email"])["access"]
    auth = {"Authorization": f"Bearer {tok}"}
    tid = requests.get(base + "/api/threads/", headers=auth, timeout=TIMEOUT).json()["results"][0]["id"]
    def measure(path, signed):
        h = auth if signed else {}
        lat, start, errs = [], time.time(), 0
        for _ in range(reqs):
            if time.time() - start > 20: break
            a = time.perf_counter()
            try:
                ok = requests.get(base + path, headers=h, timeout=TIMEOUT).status_code == 200
            except requests.RequestException:
                ok = False
            lat.append((time.perf_counter() - a) * 1000)
            errs += not ok
        lat.sort()
        return len(lat), lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], errs
    search = "/api/listings/?attr.breed=beagle&attr.vaccinated=true&price_min=100.00&price_max=150.00"
    rows = [("listing search: 2 attr filters + price range", search, 0),
            ("listing search + attr.age__gte=10", search + "&attr.age__gte=10", 0),
            ("thread list (signed in)", "/api/threads/", 1),
            ("message page (signed in)", f"/api/threads/{tid}/messages/", 1)]
    table = [(name,) + measure(path, signed) for name, path, signed in rows]
    with open("/proc/loadavg") as f:
        load_after = " ".join(f.read().split()[:3])
    title = "PostgreSQL 15 (throwaway cluster, fsync off)" if db == "pgsql" else "SQLite (souk's default: one file, WAL)"
    how = ("one SQL statement each" if db == "pgsql"
           else "one sqlite3 CLI transaction each, souk stopped meanwhile; ANALYZE included")
    print(f"### {title}")
    print()
    print(f"- {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit()}, {os.cpu_count()} CPUs; "
          f"load average before the database's run {load_before}, after it {load_after}")
    print(f"- data: {st['n']} listings generated in {st['gen_l']:.1f} s; {st['users']} threads x 100 = "
          f"{st['users'] * 100} messages in {st['gen_m']:.1f} s ({how})")
    print(f"- client: sequential python-requests, {reqs} requests per row (each row bounded by 20 s), same machine")
    print()
    print("| target | requests | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    for name, k, p50, p99, e in table:
        print(f"| {name} | {k} | {p50:.1f} | {p99:.1f} | {e} |")
    print()
    print("Plan of the search statement (as src/listings/search.c builds it):")
    print()
    print("```")
    print(psql(PG_PLAN).rstrip() if db == "pgsql" else sqlite_plan())
    print("```")
    print()

def commit():
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return (r.stdout.strip() or "unknown") + (" + uncommitted changes" if dirty else "")

if phase == "register":
    register(f"http://127.0.0.1:{sys.argv[5]}")
elif phase == "fill":
    fill(int(sys.argv[5]), int(sys.argv[6]))
else:
    measure_all(f"http://127.0.0.1:{sys.argv[5]}", int(sys.argv[6]), sys.argv[7])
PY

# One database: start, register, fill, (SQLite: restart), measure, stop.
bench_db() {
    local db=$1 url target st=$WORK/state-$1.json py=(/usr/bin/python3 "$WORK/bench.py") load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if [ "$db" = pgsql ]; then
        svc_pg_start || die "PostgreSQL did not start"
        svc_pg_as_owner "$SVC_PG_BIN/createdb" -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres \
            listings || die "createdb failed"
        url="postgres://postgres@127.0.0.1:$SVC_PG_PORT/listings"
        target=$url
    else
        target=$WORK/listings.db
        url="sqlite:///$target"
    fi
    mkdir -p "$WORK/data"
    souk_start "$url" || die "souk did not start on $db"
    "${py[@]}" register "$db" "$target" "$st" "$PORT" || die "register failed on $db"
    [ "$db" = sqlite ] && souk_stop
    "${py[@]}" fill "$db" "$target" "$st" "$N" "$M" || die "bulk rows failed on $db"
    [ "$db" = sqlite ] && { souk_start "$url" || die "souk did not restart on $db"; }
    "${py[@]}" measure "$db" "$target" "$st" "$PORT" "$REQS" "$load" || die "measure failed on $db"
    souk_stop
    [ "$db" = pgsql ] && svc_stop_all
}

echo "Command: \`BENCH_DB=${BENCH_DB:-both} BENCH_LISTINGS=$N BENCH_MESSAGES=$M BENCH_REQUESTS=$REQS bash bench/listings.sh\`"
echo
for db in $DBS; do
    bench_db "$db"
done
