# shellcheck shell=bash
# tests/lib/services.sh - throwaway PostgreSQL 15 and Redis for tests and benchmarks.
#
# Source it from bash (not sh), then:
#
#   svc_pg_start      initdb + start a PostgreSQL 15 cluster in a fresh temp dir on a free
#                     loopback port, create database souk_test, export SOUK_TEST_PG_URL
#                     (postgres://postgres@127.0.0.1:PORT/souk_test).
#   svc_redis_start   start redis-server on a free loopback port, no persistence, export
#                     SOUK_TEST_REDIS_URL (redis://127.0.0.1:PORT/0).
#   svc_pgbouncer_start  pgbouncer in transaction pooling mode in front of that cluster (every
#                     database name is passed through), on a free loopback port; exports
#                     SOUK_TEST_PGBOUNCER_URL (postgres://postgres@127.0.0.1:PORT/souk_test).
#   svc_standby_start a streaming-replication hot standby of the cluster (pg_basebackup -R) on
#                     another free port; exports SOUK_TEST_PG_STANDBY_URL / _DATA.
#   svc_stop_all      stop whatever the above started (idempotent; safe in an EXIT trap).
#
# Everything lives under one directory made by mktemp ($SVC_DIR); svc_stop_all removes it.
# The cluster is tuned for tests, not durability (fsync, synchronous_commit and
# full_page_writes off). Nothing listens on anything but 127.0.0.1 (and a unix socket inside
# $SVC_DIR). Only processes started here are stopped: PostgreSQL through pg_ctl on its own data
# directory, Redis by the PID recorded when it was started.
#
# initdb refuses to run as root: when we are root the PostgreSQL commands run as the `postgres`
# system user (runuser); otherwise as ourselves. Either way the database superuser is `postgres`
# (initdb -U postgres) with trust authentication on loopback.

SVC_PG_BIN=${SVC_PG_BIN:-/usr/lib/postgresql/15/bin}
SVC_DIR=${SVC_DIR:-}
SVC_PG_DATA=
SVC_PG_PORT=
SVC_REDIS_PID=
SVC_REDIS_PORT=

svc_log() { printf '%s\n' "services: $*" >&2; }

# Prints a TCP port that is free on 127.0.0.1 right now (the kernel picks it).
svc_free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Creates $SVC_DIR once (world-traversable so the postgres user can reach its subdirectory).
svc_dir() {
    if [ -z "$SVC_DIR" ] || [ ! -d "$SVC_DIR" ]; then
        SVC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/souk-svc.XXXXXX") || return 1
        chmod 755 "$SVC_DIR"
    fi
}

# Runs a PostgreSQL command as the cluster's owner.
svc_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

svc_pg_write_conf() {
    cat >>"$SVC_PG_DATA/postgresql.conf" <<EOF

# souk test cluster (tests/lib/services.sh)
port = $SVC_PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SVC_DIR/pg'
max_connections = 500
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
}

# Starts the cluster; exports SOUK_TEST_PG_URL. Returns non-zero (with the log shown) on failure.
svc_pg_start() {
    [ -n "$SVC_PG_DATA" ] && return 0
    svc_dir || return 1
    [ -x "$SVC_PG_BIN/initdb" ] || { svc_log "no $SVC_PG_BIN/initdb (install postgresql-15)"; return 1; }
    mkdir -p "$SVC_DIR/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$SVC_DIR/pg"
    SVC_PG_DATA=$SVC_DIR/pg/data
    SVC_PG_PORT=$(svc_free_port) || return 1
    if ! svc_pg_as_owner "$SVC_PG_BIN/initdb" -D "$SVC_PG_DATA" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$SVC_DIR/pg/initdb.log" 2>&1; then
        svc_log "initdb failed:"; cat "$SVC_DIR/pg/initdb.log" >&2
        return 1
    fi
    svc_pg_write_conf
    if ! svc_pg_as_owner "$SVC_PG_BIN/pg_ctl" -D "$SVC_PG_DATA" -l "$SVC_DIR/pg/server.log" \
        -w -t 60 start >/dev/null; then
        svc_log "PostgreSQL did not start:"; tail -n 30 "$SVC_DIR/pg/server.log" >&2
        return 1
    fi
    if ! svc_pg_as_owner "$SVC_PG_BIN/createdb" -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres souk_test; then
        svc_log "createdb souk_test failed"
        return 1
    fi
    export SOUK_TEST_PG_URL="postgres://postgres@127.0.0.1:$SVC_PG_PORT/souk_test"
    svc_log "PostgreSQL 15 on 127.0.0.1:$SVC_PG_PORT ($SVC_PG_DATA)"
}

svc_pg_stop() {
    [ -n "$SVC_PG_DATA" ] || return 0
    if [ -f "$SVC_PG_DATA/postmaster.pid" ]; then
        svc_pg_as_owner "$SVC_PG_BIN/pg_ctl" -D "$SVC_PG_DATA" -m immediate -w -t 30 stop \
            >/dev/null 2>&1 || svc_log "pg_ctl stop failed (data dir $SVC_PG_DATA)"
    fi
    SVC_PG_DATA=
}

# Waits until the Redis on $SVC_REDIS_PORT answers PING (10 s at most).
svc_redis_wait() {
    local _
    for _ in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$SVC_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        kill -0 "$SVC_REDIS_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Starts Redis in the background; exports SOUK_TEST_REDIS_URL.
svc_redis_start() {
    [ -n "$SVC_REDIS_PID" ] && return 0
    svc_dir || return 1
    command -v redis-server >/dev/null || { svc_log "redis-server not installed"; return 1; }
    mkdir -p "$SVC_DIR/redis"
    SVC_REDIS_PORT=$(svc_free_port) || return 1
    redis-server --port "$SVC_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$SVC_DIR/redis" --loglevel warning \
        >"$SVC_DIR/redis/redis.log" 2>&1 </dev/null &
    SVC_REDIS_PID=$!
    if ! svc_redis_wait; then
        svc_log "Redis did not start:"; tail -n 20 "$SVC_DIR/redis/redis.log" >&2
        return 1
    fi
    export SOUK_TEST_REDIS_URL="redis://127.0.0.1:$SVC_REDIS_PORT/0"
    svc_log "Redis on 127.0.0.1:$SVC_REDIS_PORT (pid $SVC_REDIS_PID)"
}

svc_redis_stop() {
    [ -n "$SVC_REDIS_PID" ] || return 0
    local _
    kill -TERM "$SVC_REDIS_PID" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$SVC_REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SVC_REDIS_PID" 2>/dev/null
    wait "$SVC_REDIS_PID" 2>/dev/null
    SVC_REDIS_PID=
}

# ---- pgbouncer ------------------------------------------------------------------------------
# pgbouncer refuses to run as root: like PostgreSQL it then runs as the postgres user.
SVC_PGB_PID=
SVC_PGB_PORT=

svc_pgbouncer_start() {
    [ -n "$SVC_PGB_PID" ] && return 0
    local pg_port=$SVC_PG_PORT
    [ -n "$pg_port" ] || pg_port=$(printf '%s' "${SOUK_TEST_PG_URL:-}" | sed -n 's|.*@127\.0\.0\.1:\([0-9]*\)/.*|\1|p')
    [ -n "$pg_port" ] || { svc_log "svc_pgbouncer_start needs svc_pg_start (or SOUK_TEST_PG_URL)"; return 1; }
    command -v pgbouncer >/dev/null || { svc_log "pgbouncer not installed"; return 1; }
    svc_dir || return 1
    local d=$SVC_DIR/pgbouncer _
    mkdir -p "$d"
    SVC_PGB_PORT=$(svc_free_port) || return 1
    printf '"postgres" ""\n' >"$d/userlist.txt"
    cat >"$d/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $SVC_PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 8
max_db_connections = 16
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
admin_users = postgres
EOF
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$d"
    svc_pg_as_owner pgbouncer "$d/pgbouncer.ini" >"$d/stdout.log" 2>&1 </dev/null &
    SVC_PGB_PID=$!
    for _ in $(seq 1 100); do
        if psql "postgres://postgres@127.0.0.1:$SVC_PGB_PORT/souk_test" -qAtc 'SELECT 1' \
            >/dev/null 2>&1; then
            export SOUK_TEST_PGBOUNCER_URL="postgres://postgres@127.0.0.1:$SVC_PGB_PORT/souk_test"
            svc_log "pgbouncer (transaction pooling) on 127.0.0.1:$SVC_PGB_PORT (pid $SVC_PGB_PID)"
            return 0
        fi
        kill -0 "$SVC_PGB_PID" 2>/dev/null || break
        sleep 0.1
    done
    svc_log "pgbouncer did not start:"; tail -n 20 "$d/pgbouncer.log" "$d/stdout.log" >&2
    return 1
}

# Stops a process started here by its PID (TERM, then KILL after 5 s).
svc_kill_pid() {
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

svc_pgbouncer_stop() {
    [ -n "$SVC_PGB_PID" ] || return 0
    local own
    own=$(cat "$SVC_DIR/pgbouncer/pgbouncer.pid" 2>/dev/null)
    [ -n "$own" ] && kill -INT "$own" 2>/dev/null # pgbouncer itself (under runuser when root)
    svc_kill_pid "$SVC_PGB_PID"
    [ -n "$own" ] && kill -KILL "$own" 2>/dev/null
    SVC_PGB_PID=
}

# ---- streaming-replication standby --------------------------------------------------------
SVC_SB_DATA=
SVC_SB_PORT=

# A hot standby of the cluster (pg_basebackup -R: standby.signal + primary_conninfo) on its own
# free port; exports SOUK_TEST_PG_STANDBY_URL. `pg_ctl promote` makes it a primary.
svc_standby_start() {
    [ -n "$SVC_SB_DATA" ] && return 0
    [ -n "$SVC_PG_PORT" ] || { svc_log "svc_standby_start needs svc_pg_start first"; return 1; }
    SVC_SB_DATA=$SVC_DIR/pg/standby
    SVC_SB_PORT=$(svc_free_port) || return 1
    if ! svc_pg_as_owner "$SVC_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$SVC_PG_PORT" -U postgres \
        -D "$SVC_SB_DATA" -R -X stream >"$SVC_DIR/pg/basebackup.log" 2>&1; then
        svc_log "pg_basebackup failed:"; cat "$SVC_DIR/pg/basebackup.log" >&2
        return 1
    fi
    cat >>"$SVC_SB_DATA/postgresql.conf" <<EOF
port = $SVC_SB_PORT
hot_standby = on
EOF
    if ! svc_pg_as_owner "$SVC_PG_BIN/pg_ctl" -D "$SVC_SB_DATA" -l "$SVC_DIR/pg/standby.log" \
        -w -t 60 start >/dev/null; then
        svc_log "standby did not start:"; tail -n 30 "$SVC_DIR/pg/standby.log" >&2
        return 1
    fi
    export SOUK_TEST_PG_STANDBY_URL="postgres://postgres@127.0.0.1:$SVC_SB_PORT/souk_test"
    export SOUK_TEST_PG_STANDBY_DATA=$SVC_SB_DATA
    svc_log "PostgreSQL standby on 127.0.0.1:$SVC_SB_PORT ($SVC_SB_DATA)"
}

svc_standby_stop() {
    [ -n "$SVC_SB_DATA" ] || return 0
    if [ -f "$SVC_SB_DATA/postmaster.pid" ]; then
        svc_pg_as_owner "$SVC_PG_BIN/pg_ctl" -D "$SVC_SB_DATA" -m immediate -w -t 30 stop \
            >/dev/null 2>&1 || svc_log "pg_ctl stop failed (data dir $SVC_SB_DATA)"
    fi
    SVC_SB_DATA=
}

# Stops everything and removes the temp directory. Safe to call more than once.
svc_stop_all() {
    svc_pgbouncer_stop
    svc_standby_stop
    svc_pg_stop
    svc_redis_stop
    if [ -n "$SVC_DIR" ] && [ -d "$SVC_DIR" ]; then
        rm -rf "$SVC_DIR"
    fi
    SVC_DIR=
}
