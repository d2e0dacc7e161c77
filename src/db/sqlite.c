/* sqlite.c - the SQLite driver behind db.h.
 *
 * Each pool connection is its own sqlite3 handle opened NOMUTEX (one thread
 * holds a connection at a time, and the pool hands it over under a mutex)
 * with WAL, synchronous=NORMAL, foreign keys on and a 5 s busy timeout.
 * Statements are prepared once with sqlite3_prepare_v3(PERSISTENT) and kept
 * in the connection's cache keyed by SQL text; after each use they are reset
 * and their bindings cleared. `$N` placeholders are SQLite named parameters:
 * each is bound by looking up the index of "$N", so a repeated or
 * out-of-order `$1` works as in PostgreSQL. Rows are copied into a db_res.
 *
 * Error codes (extended) are classified here; db_fail_driver does the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "db/internal.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_PRAGMAS         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"

static int is_memory(sqlite3 *h)
{
    const char *f = sqlite3_db_filename(h, "main");

    return !f || !*f;
}

static int classify(sqlite3 *h, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SOUK_RETRY;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return SOUK_CONFLICT;
        return SOUK_INVALID;
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        return SOUK_INVALID;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        /* reopening an in-memory database would lose it: never do that */
        return is_memory(h) ? SOUK_INTERNAL : SOUK_UNAVAILABLE;
    default:
        return SOUK_INTERNAL;
    }
}

static int sq_fail(struct db_conn *c, int rc, const char *sql, struct souk_errinfo *ei)
{
    sqlite3 *h = c->h;

    return db_fail_driver(c, classify(h, rc), sqlite3_errmsg(h), sql, ei);
}

/* ---- opening ------------------------------------------------------------ */

/* mkdir -p of the directory part of path. */
static int make_parent_dir(const char *path, struct souk_errinfo *ei)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int err = 0;

    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1;; p++) {
            int end = (*p == '\0');

            if (*p != '/' && !end)
                continue;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                err = souk_fail(ei, SOUK_UNAVAILABLE, "cannot create directory %s: %s", dir,
                                strerror(errno));
                break;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    free(dir);
    return err;
}

/* Switching a new database to WAL needs an exclusive lock and does not wait
 * in the busy handler, so nodes opening one file at once retry here. */
static int apply_pragmas(sqlite3 *h, char **msg)
{
    struct timespec pause = {0, 10 * 1000000L};
    int rc;

    for (int waited = 0;; waited += 10) {
        rc = sqlite3_exec(h, SQ_PRAGMAS, NULL, NULL, msg);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= SQ_BUSY_TIMEOUT_MS)
            return rc;
        sqlite3_free(*msg);
        *msg = NULL;
        nanosleep(&pause, NULL);
    }
}

static int sq_connect(struct db_conn *c, const char *target, struct souk_errinfo *ei)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    sqlite3 *h = NULL;
    char *msg = NULL;
    int rc, err;

    if (strcmp(target, ":memory:") != 0 && (err = make_parent_dir(target, ei)))
        return err;
    rc = sqlite3_open_v2(target, &h, flags, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(h, 1);
        sqlite3_busy_timeout(h, SQ_BUSY_TIMEOUT_MS);
        rc = apply_pragmas(h, &msg);
    }
    if (rc != SQLITE_OK) {
        const char *why = msg ? msg : sqlite3_errstr(rc);

        if (!msg && h)
            why = sqlite3_errmsg(h);
        err = souk_fail(ei, SOUK_UNAVAILABLE, "cannot open sqlite database %s: %s", target, why);
        sqlite3_free(msg);
        sqlite3_close(h);
        return err;
    }
    c->h = h;
    return 0;
}

static void finalize(void *st)
{
    sqlite3_finalize(st);
}

static void sq_disconnect(struct db_conn *c)
{
    db_cache_clear(&c->cache, finalize);
    sqlite3_close(c->h); /* accepts NULL */
    c->h = NULL;
}

static int sq_reconnect(struct db_conn *c, const char *target, struct souk_errinfo *ei)
{
    sq_disconnect(c);
    return sq_connect(c, target, ei);
}

/* ---- statements --------------------------------------------------------- */

static int only_blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ';' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

/* The cached statement for sql, or a fresh one (*cached = 0: finalize it). */
static int stmt_get(struct db_conn *c, const char *sql, sqlite3_stmt **out, int *cached,
                    struct souk_errinfo *ei)
{
    sqlite3_stmt *st = db_cache_get(&c->cache, sql);
    const char *tail = NULL;
    int rc;

    *cached = 1;
    if ((*out = st))
        return 0;
    rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK)
        return sq_fail(c, rc, sql, ei);
    if (!st)
        return db_fail_driver(c, SOUK_INTERNAL, "empty statement", sql, ei);
    if (!only_blank(tail)) {
        sqlite3_finalize(st);
        return db_fail_driver(c, SOUK_INTERNAL, "one statement per call", sql, ei);
    }
    *cached = db_cache_put(&c->cache, sql, st) == 0;
    *out = st;
    return 0;
}

/* Every placeholder must be one of $1..$np, as PostgreSQL would insist. */
static int check_placeholders(struct db_conn *c, sqlite3_stmt *st, const char *sql, int np,
                              struct souk_errinfo *ei)
{
    int n = sqlite3_bind_parameter_count(st);

    for (int i = 1; i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name(st, i);
        char *end = NULL;
        long k = name && name[0] == '$' ? strtol(name + 1, &end, 10) : 0;

        if (k < 1 || k > np || !end || *end)
            return db_fail_driver(c, SOUK_INTERNAL, "placeholder without a parameter", sql, ei);
    }
    return 0;
}

static int bind_one(sqlite3_stmt *st, int idx, const struct db_param *p)
{
    switch (p->type) {
    case DB_TEXT:
        if (!p->s)
            return sqlite3_bind_null(st, idx);
        /* STATIC: the caller's string outlives the step; bindings are cleared after */
        return sqlite3_bind_text(st, idx, p->s, -1, SQLITE_STATIC);
    case DB_INT:
    case DB_BOOL:
        return sqlite3_bind_int64(st, idx, p->i);
    case DB_NULL:
        return sqlite3_bind_null(st, idx);
    }
    return SQLITE_MISUSE;
}

static int bind_all(struct db_conn *c, sqlite3_stmt *st, const char *sql, const struct db_param *p,
                    int np, struct souk_errinfo *ei)
{
    int err = check_placeholders(c, st, sql, np, ei);

    for (int i = 0; !err && i < np; i++) {
        char name[16];
        int idx, rc;

        snprintf(name, sizeof(name), "$%d", i + 1);
        /* PostgreSQL cannot type a parameter the statement does not use */
        if (!(idx = sqlite3_bind_parameter_index(st, name)))
            return db_fail_driver(c, SOUK_INTERNAL, "parameter not used by the statement", sql, ei);
        if ((rc = bind_one(st, idx, &p[i])) != SQLITE_OK)
            err = sq_fail(c, rc, sql, ei);
    }
    return err;
}

static void copy_row(struct db_res *r, sqlite3_stmt *st)
{
    db_res_add_row(r);
    for (int col = 0; col < db_ncols(r); col++) {
        const unsigned char *s = NULL;

        if (sqlite3_column_type(st, col) != SQLITE_NULL)
            s = sqlite3_column_text(st, col);
        db_res_set_cell(r, col, (const char *)s, s ? (size_t)sqlite3_column_bytes(st, col) : 0);
    }
}

static int step_all(struct db_conn *c, sqlite3_stmt *st, const char *sql, struct db_res **out,
                    struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int rc;

    if (out) {
        r = db_res_new(sqlite3_column_count(st));
        for (int col = 0; col < db_ncols(r); col++)
            db_res_set_name(r, col, sqlite3_column_name(st, col));
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (r)
            copy_row(r, st);
    if (rc != SQLITE_DONE) {
        db_res_free(r);
        return sq_fail(c, rc, sql, ei);
    }
    if (out)
        *out = r;
    return 0;
}

static int sq_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                    struct db_res **out, int64_t *changed, struct souk_errinfo *ei)
{
    sqlite3_stmt *st;
    int cached, err;

    if ((err = stmt_get(c, sql, &st, &cached, ei)))
        return err;
    err = bind_all(c, st, sql, p, np, ei);
    if (!err)
        err = step_all(c, st, sql, out, ei);
    if (!err && changed)
        *changed = sqlite3_stmt_readonly(st) ? 0 : sqlite3_changes64(c->h);
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
    return err;
}

static int sq_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->h, sql, NULL, NULL, &msg), err = 0;

    if (rc != SQLITE_OK)
        err = db_fail_driver(c, classify(c->h, sqlite3_extended_errcode(c->h)),
                             msg ? msg : sqlite3_errstr(rc), sql, ei);
    sqlite3_free(msg);
    return err;
}

static int sq_tx_open(struct db_conn *c)
{
    return c->h && !sqlite3_get_autocommit(c->h);
}

const struct db_driver db_driver_sqlite = {
    .dialect = DB_SQLITE,
    .begin_sql = "BEGIN IMMEDIATE",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .reconnect = sq_reconnect,
    .query = sq_query,
    .script = sq_script,
    .tx_open = sq_tx_open,
};
