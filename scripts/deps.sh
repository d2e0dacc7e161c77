#!/bin/sh
# Installs every Debian package that souk's build, tests and benchmarks need.
# Fast and silent when they are all present; run as root (or with sudo).
set -eu

PACKAGES="
build-essential pkg-config
libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev
libhiredis-dev libsqlite3-dev libpq-dev
libmagic-dev libvips-dev libcmark-dev
libcmocka-dev clang libclang-rt-14-dev cppcheck
postgresql-15 redis-server nginx pgbouncer chromium
python3 python3-pytest python3-requests python3-jwt python3-aiosmtpd
nodejs npm wrk
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        # nodejs/npm may come from elsewhere than Debian: accept the commands.
        case "$p" in
            nodejs) command -v node >/dev/null 2>&1 && continue ;;
            npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done" >&2
