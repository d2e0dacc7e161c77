#!/usr/bin/env bash
# bench/recipes.sh - the cookbook under load: a subscriber opening a premium recipe, the first
# page of the global cookbook with a cuisine filter, and a full-text search, at 100k and 1M
# recipes (`souk demo --recipes N`), on SQLite and PostgreSQL, each figure next to the same
# run's /healthz and, on PostgreSQL, `pgbench -S -M prepared` on the same cluster. Prints the
# query plans of the list and the search. With --write it replaces its own section of
# bench/RESULTS.md (bench/section.py); otherwise the section goes to stdout.
#
# Environment:
#   BENCH_SECONDS      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS  connections (default 64)
#   BENCH_DBS          databases (default "sqlite pgsql")
#   BENCH_SIZES        cookbook sizes (default "100000 1000000")
#   BENCH_THREADS      wrk threads (default nproc)
#   SOUK_BIN           binary (default build/souk; needs the `demo` command)
# Loopback only; every wrk/pgbench run is bounded by BENCH_SECONDS (+ a timeout).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1

SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
DBS=${BENCH_DBS:-sqlite pgsql}
SIZES=${BENCH_SIZES:-100000 1000000}
THREADS=${BENCH_THREADS:-$(nproc)}
SOUK_BIN=${SOUK_BIN:-$ROOT/build/souk}
LUA=$ROOT/bench/report.lua
SECRET=bench-secret-key-0123456789abcdef0123456789abcdef
CUISINE=italian
QUERY=chickpea
PREFIX2=ch  # a two-letter prefix (FTS5 prefix index); one-letter words match exactly

# shellcheck source=tests/lib/services.sh
. "$ROOT/tests/lib/services.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/souk-bench-recipes.XXXXXX") || exit 2
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
# pgbench as the cluster's owner, under timeout (a shell function cannot be timed out)
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)

souk_env() { # database url
    echo SOUK_DATA_DIR="$WORK/data" SOUK_DATABASE_URL="$1" SOUK_LOG_LEVEL=warn \
        SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0 SOUK_SECRET_KEY=$SECRET
}

start_souk() { # database url
    local port _
    port=$(svc_free_port)
    SOUK_URL=http://127.0.0.1:$port
    mkdir -p "$WORK/data"
    env $(souk_env "$1") SOUK_LISTEN="127.0.0.1:$port" "$SOUK_BIN" serve \
        >"$WORK/souk.log" 2>&1 </dev/null &
    SOUK_PID=$!
    for _ in $(seq 1 600); do
        curl -fs -o /dev/null "$SOUK_URL/healthz" && return 0
        kill -0 "$SOUK_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$WORK/souk.log" >&2
    die "souk did not become healthy"
}

stop_souk() {
    [ -n "$SOUK_PID" ] || return 0
    kill -TERM "$SOUK_PID" 2>/dev/null
    wait "$SOUK_PID" 2>/dev/null
    SOUK_PID=
}

json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# The demo's first subscriber, a token, and a premium recipe of a chef they subscribe to.
setup() {
    local email chef
    email=$(sed -n 's/^demo: subscriber \([^ ]*\) .*/\1/p' "$WORK/demo.log" | head -n 1)
    [ -n "$email" ] || die "no subscriber in the demo output"
    TOKEN=$(curl -fs -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"demo-password-42\"}" \
        "$SOUK_URL/api/users/login/" | json 'd["access"]') || die "login failed"
    chef=$(curl -fs -H "Authorization: Bearer $TOKEN" "$SOUK_URL/api/subscriptions/chefs/" |
        json 'd["results"][0]["id"]') || die "no subscribed chef"
    RECIPE=$(curl -fs -H "Authorization: Bearer $TOKEN" \
        "$SOUK_URL/api/recipes/?chef=$chef&is_premium=true&page_size=1" |
        json 'd["results"][0]["id"]') || die "no premium recipe"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "$SOUK_URL/api/recipes/$RECIPE/")" = 200 ] || die "the subscriber cannot open $RECIPE"
}

measure() { # label size db path auth(0|1)
    local label=$1 size=$2 db=$3 path=$4 auth=$5 threads=$THREADS line hdr=()
    [ "$threads" -gt "$CONNS" ] && threads=$CONNS
    [ "$auth" = 1 ] && hdr=(-H "Authorization: Bearer $TOKEN")
    echo "wrk -t$threads -c$CONNS -d${SECS}s --latency -s bench/report.lua$([ "$auth" = 1 ] && echo " -H 'Authorization: Bearer \$SUBSCRIBER_TOKEN'") \$URL$path" >>"$WORK/commands"
    line=$(timeout $((SECS + 60)) wrk -t"$threads" -c"$CONNS" -d"${SECS}s" --latency \
        "${hdr[@]}" -s "$LUA" "$SOUK_URL$path" | grep '^BENCH ')
    [ -n "$line" ] || die "wrk printed no BENCH line for $path"
    echo "bench: $db $size $label: $line" >&2
    awk -v db="$db" -v size="$size" -v label="$label" -v path="$path" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        err = v["errors_connect"] + v["errors_read"] + v["errors_write"] + v["errors_status"] + v["errors_timeout"]
        printf "| %s | %s | %s `%s` | %.0f | %.2f | %.2f | %d |\n", db, size, label, path, v["rps"],
            v["p50_us"] / 1000, v["p99_us"] / 1000, err
    }' <<<"$line" >>"$WORK/rows"
}

pgbench_run() { # size
    local bin=/usr/lib/postgresql/15/bin tps
    if [ ! -f "$WORK/pgbench-init" ]; then
        svc_pg_as_owner "$bin/createdb" -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres pgbench
        svc_pg_as_owner "$bin/pgbench" -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres -i -s 10 -q \
            pgbench >/dev/null 2>&1 || die "pgbench -i failed"
        touch "$WORK/pgbench-init"
    fi
    tps=$(timeout $((SECS + 60)) "${AS_PG[@]}" "$bin/pgbench" -h 127.0.0.1 -p "$SVC_PG_PORT" \
        -U postgres -S -M prepared -c "$CONNS" -j "$THREADS" -T "$SECS" pgbench 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
    echo "pgbench -S -M prepared -c $CONNS -j $THREADS -T $SECS (scale 10, same cluster)" >>"$WORK/commands"
    printf '| pgsql | %s | `pgbench -S -M prepared` (same cluster) | %.0f | | | |\n' "$1" "$tps" >>"$WORK/rows"
}

SEARCH_SQL="SELECT r.id, r.title, v.business_name FROM recipes_fts f CROSS JOIN recipes r ON r.seq = f.rowid JOIN vendor_profiles v ON v.id = r.chef_id WHERE 1 = 1 AND f.recipes_fts MATCH '(\"$QUERY\")'"
LIST_SQL="SELECT r.id, r.title, v.business_name FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id WHERE 1 = 1 AND r.cuisine = '$CUISINE' ORDER BY r.created_at DESC, r.id DESC LIMIT 21"
plans() { # size db url
    {
        echo "#### $2, $1 recipes"
        echo
        echo '```'
        if [ "$2" = pgsql ]; then
            psql -X -q "$3" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $LIST_SQL"
            psql -X -q "$3" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT r.id, r.title, r.search @@ to_tsquery('simple', '$QUERY:*A') FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id WHERE 1 = 1 AND r.search @@ to_tsquery('simple', '$QUERY:*') ORDER BY r.created_at DESC, r.id DESC LIMIT 21"
            psql -X -q "$3" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT r.id, r.title FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id WHERE 1 = 1 AND r.search @@ to_tsquery('simple', '$QUERY:*') ORDER BY r.cook_minutes ASC, r.id ASC LIMIT 21"
        else
            local f=${3#sqlite://}
            sqlite3 "$f" "EXPLAIN QUERY PLAN $LIST_SQL"
            # what src/recipes/recipes.c runs: -created_at is driven by FTS5 (rowid = seq),
            # a second page bounded by the edge row's seq; cook_minutes walks its index
            # against the matches materialised once (the plan for many matches)
            # (a word of 4+ letters runs as the exact terms it prefixes, from recipes_fts_vocab)
            echo "terms of $QUERY*: $(sqlite3 "$f" "SELECT group_concat(term, ' ') FROM recipes_fts_vocab WHERE term >= '$QUERY' AND term < '$QUERY' || char(1114111)")"
            echo "matches: $(sqlite3 "$f" "SELECT COUNT(*) FROM recipes_fts WHERE recipes_fts MATCH '(\"$QUERY\")'")"
            sqlite3 "$f" "EXPLAIN QUERY PLAN $SEARCH_SQL ORDER BY f.rowid DESC LIMIT 21"
            sqlite3 "$f" "EXPLAIN QUERY PLAN $SEARCH_SQL AND f.rowid < COALESCE((SELECT seq FROM recipes WHERE id = 'x'), 0) ORDER BY f.rowid DESC LIMIT 21"
            sqlite3 "$f" "EXPLAIN QUERY PLAN SELECT r.id, r.title, v.business_name FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id WHERE 1 = 1 AND +r.seq IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH '(\"$QUERY\")') ORDER BY r.cook_minutes ASC, r.id ASC LIMIT 21"
            echo "timings (sqlite3 CLI, warm), $QUERY -created_at / cook_minutes / q=$PREFIX2:"
            printf '.timer on\n%s;\n%s;\n%s;\n' \
                "SELECT COUNT(*) FROM ($SEARCH_SQL ORDER BY f.rowid DESC LIMIT 21)" \
                "SELECT COUNT(*) FROM (SELECT r.id FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id WHERE +r.seq IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH '(\"$QUERY\")') ORDER BY r.cook_minutes, r.id LIMIT 21)" \
                "SELECT COUNT(*) FROM (SELECT f.rowid FROM recipes_fts f WHERE f.recipes_fts MATCH '\"$PREFIX2\"*' ORDER BY f.rowid DESC LIMIT 21)" |
                sqlite3 "$f" 2>&1 | grep -v '^21$'
        fi
        echo '```'
        echo
    } >>"$WORK/plans" 2>&1
}

bench_one() { # size db
    local size=$1 db=$2 url t0 t1
    case "$db" in
        sqlite) url="sqlite:///$WORK/recipes-$size.db" ;;
        pgsql)
            svc_pg_start || die "PostgreSQL did not start"
            svc_pg_as_owner /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$SVC_PG_PORT" \
                -U postgres "recipes_$size" || die "createdb failed"
            url="postgres://postgres@127.0.0.1:$SVC_PG_PORT/recipes_$size" ;;
    esac
    rm -rf "$WORK/data"
    t0=$(date +%s)
    env $(souk_env "$url") "$SOUK_BIN" demo --recipes "$size" >"$WORK/demo.log" 2>"$WORK/demo.err" ||
        { tail "$WORK/demo.err" >&2; die "souk demo failed"; }
    t1=$(date +%s)
    echo "- $db, $size recipes: \`souk demo --recipes $size\` took $((t1 - t0)) s" >>"$WORK/loads"
    [ "$db" = pgsql ] && psql -X -q "$url" -c "VACUUM ANALYZE" >/dev/null
    start_souk "$url"
    setup
    echo "- $db, $size recipes: load average before measuring $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/loads"
    measure healthz "$size" "$db" /healthz 0
    measure "premium detail (subscriber)" "$size" "$db" "/api/recipes/$RECIPE/" 1
    measure "global, cuisine filter (signed in)" "$size" "$db" "/api/recipes/global/?cuisine=$CUISINE" 1
    measure "global, cuisine filter (anonymous, cached)" "$size" "$db" "/api/recipes/global/?cuisine=$CUISINE" 0
    measure "search (signed in)" "$size" "$db" "/api/recipes/search/?q=$QUERY" 1
    measure "search, ordering=cook_minutes (signed in)" "$size" "$db" "/api/recipes/search/?q=$QUERY&ordering=cook_minutes" 1
    measure "search, 2-letter prefix (signed in)" "$size" "$db" "/api/recipes/search/?q=$PREFIX2" 1
    [ "$db" = pgsql ] && pgbench_run "$size"
    stop_souk
    plans "$size" "$db" "$url"
}

for size in $SIZES; do
    for db in $DBS; do
        bench_one "$size" "$db"
    done
done

section() {
    local cpu mem
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "## Recipes: premium detail, global cookbook, search (bench/recipes.sh)"
    echo
    echo "- machine: $(nproc) CPUs ($cpu), $mem RAM, $(uname -sr)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); wrk ${SECS}s, $CONNS connections, $THREADS threads, client and server on the same machine"
    echo "- server: \`souk serve\` with SOUK_LOG_LEVEL=warn SOUK_ACCESS_LOG=0 SOUK_RATE_LIMIT_RPS=0; PostgreSQL 15 throwaway cluster (fsync off)"
    echo "- data: \`souk demo --recipes N\` (16 cuisines, ~1/4 premium); the subscriber is the demo's first fan (subscribed to 3 chefs on their top plan); signed-in lists are not cached, anonymous ones are (5 s, invalidated on writes)"
    cat "$WORK/loads"
    echo
    echo "| database | recipes | target | req/s | p50 ms | p99 ms | errors |"
    echo "|---|---:|---|---:|---:|---:|---:|"
    cat "$WORK/rows"
    echo
    echo "Query plans (list: cuisine filter, first page; search: \`q=$QUERY\`, first and next page, and \`ordering=cook_minutes\`):"
    echo
    cat "$WORK/plans"
    echo "Commands:"
    echo
    echo '```'
    echo "bench/recipes.sh --write   # BENCH_SIZES=\"$SIZES\" BENCH_DBS=\"$DBS\""
    sort -u "$WORK/commands"
    echo '```'
}

section >"$WORK/section.md"
if [ "$WRITE" = 1 ]; then
    /usr/bin/python3 "$ROOT/bench/section.py" "$ROOT/bench/RESULTS.md" bench/recipes.sh \
        "$WORK/section.md" || die "could not write bench/RESULTS.md"
    echo "bench: wrote the bench/recipes.sh section of bench/RESULTS.md" >&2
else
    cat "$WORK/section.md"
fi
