#!/bin/sh
# scripts/run.sh - `make run`: serve souk on SQLite in the data folder. On a
# fresh data folder (no database yet) it first loads the demo marketplace and
# creates a demo ADMIN and a demo MODERATOR, once (marker: <data>/.demo-loaded),
# then prints the console URL and the accounts. `souk serve` itself never
# loads demo data.
#   usage: scripts/run.sh [path/to/souk]
set -eu
bin=${1:-build/souk}
data=${SOUK_DATA_DIR:-./data}
listen=${SOUK_LISTEN:-127.0.0.1:8000}
url=${SOUK_PUBLIC_URL:-http://$listen}
pw=demo-password-42 # the demo accounts' password (src/demo/demo.h DEMO_PASSWORD)
mkdir -p "$data"
if [ ! -e "$data/.demo-loaded" ] && [ ! -e "$data/souk.db" ] && [ -z "${SOUK_DATABASE_URL:-}" ]; then
    echo "First run: loading the demo marketplace into $data ..."
    "$bin" migrate >/dev/null 2>&1
    "$bin" demo > "$data/demo-accounts.txt"
    "$bin" createuser --email admin@demo.souk.test --password "$pw" --role ADMIN \
        --first-name Demo --last-name Admin >/dev/null
    "$bin" createuser --email moderator@demo.souk.test --password "$pw" --role MODERATOR \
        --first-name Demo --last-name Moderator >/dev/null
    touch "$data/.demo-loaded"
fi
if [ -e "$data/.demo-loaded" ]; then
    cat <<MSG

  souk is starting on $url
  Admin console:  $url/admin/
    ADMIN       admin@demo.souk.test / $pw
    MODERATOR   moderator@demo.souk.test / $pw
  API:            $url/api/docs/
  Demo chefs and customers (same password): $data/demo-accounts.txt

MSG
fi
exec "$bin" serve
