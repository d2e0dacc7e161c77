/* pgsql.c - the PostgreSQL (libpq) driver behind db.h.
 *
 * Each pool connection is one libpq session (blocking API), set up with
 * TimeZone UTC and application_name souk, again after every PQreset. A
 * statement is prepared once per session with PQprepare under a generated
 * name ("souk_N") kept in the connection's cache keyed by SQL text, then run
 * with PQexecPrepared. Parameters go as text with no declared type (the
 * server infers it from the statement); booleans as "true"/"false". Results
 * are asked for in text form and copied into a db_res, so a PGresult never
 * leaves this file. Notices are sent to the debug log rather than stderr.
 *
 * With SOUK_DB_PREPARED=0 (souk behind pgbouncer in transaction pooling,
 * where consecutive statements may run on different server sessions) no
 * session state is made: no SET at connect, and every statement goes as an
 * unnamed one in a single PQexecParams round trip (parse, bind, execute).
 * Nothing souk stores depends on TimeZone (times are BIGINT microseconds).
 *
 * SQLSTATEs are classified here; db_fail_driver does the rest.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "db/internal.h"

#define PG_SESSION_SQL "SET TimeZone TO 'UTC'; SET application_name TO 'souk'"
#define PG_INT_LEN     24 /* room for any int64 in decimal */

struct pg {
    PGconn *conn;
    unsigned next_name; /* for statement names, unique within the session */
};

/* Statements unnamed and no session state (pgbouncer transaction pooling). */
int db_pg_tx_pooling(void)
{
    return souk_cfg && !souk_cfg->db_prepared;
}

static PGconn *conn_of(const struct db_conn *c)
{
    return ((const struct pg *)c->h)->conn;
}

/* ---- errors ------------------------------------------------------------- */

static int state_is(const char *st, const char *const *list)
{
    for (; *list; list++)
        if (strncmp(st, *list, strlen(*list)) == 0)
            return 1;
    return 0;
}

static int classify(PGconn *conn, const PGresult *res)
{
    static const char *const lost[] = {"08000", "08001", "08003", "08004", "08006",
                                       "57P01", "57P02", "57P03", NULL};
    static const char *const retry[] = {"40001", "40P01", NULL};
    static const char *const invalid[] = {"23", "22", NULL};
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (PQstatus(conn) == CONNECTION_BAD || (st && state_is(st, lost)))
        return SOUK_UNAVAILABLE;
    if (!st)
        return SOUK_INTERNAL;
    if (state_is(st, retry))
        return SOUK_RETRY;
    if (strcmp(st, "23505") == 0)
        return SOUK_CONFLICT;
    if (state_is(st, invalid))
        return SOUK_INVALID;
    return SOUK_INTERNAL;
}

/* Fails with the classified error of res (which may be NULL); frees res. */
static int pg_fail(struct db_conn *c, PGresult *res, const char *sql, struct souk_errinfo *ei)
{
    PGconn *conn = conn_of(c);
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[256];
    int err;

    snprintf(msg, sizeof(msg), "%s", m ? m : PQerrorMessage(conn));
    msg[strcspn(msg, "\n")] = '\0';
    err = db_fail_driver(c, classify(conn, res), msg, sql, ei);
    PQclear(res);
    return err;
}

static int res_ok(const PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);

    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

/* ---- sessions ----------------------------------------------------------- */

static void notice(void *arg, const char *msg)
{
    (void)arg;
    log_debug("db: postgres notice: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int session_setup(struct db_conn *c, struct souk_errinfo *ei)
{
    PGconn *conn = conn_of(c);
    PGresult *res;

    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        return souk_fail(ei, SOUK_UNAVAILABLE, "cannot connect to PostgreSQL: %s", msg);
    }
    PQsetNoticeProcessor(conn, notice, NULL);
    if (db_pg_tx_pooling())
        return 0;
    res = PQexec(conn, PG_SESSION_SQL);
    if (!res_ok(res))
        return pg_fail(c, res, PG_SESSION_SQL, ei);
    PQclear(res);
    return 0;
}

static void pg_disconnect(struct db_conn *c)
{
    struct pg *pg = c->h;

    db_cache_clear(&c->cache, free);
    if (pg) {
        PQfinish(pg->conn);
        free(pg);
    }
    c->h = NULL;
}

static int pg_connect(struct db_conn *c, const char *target, struct souk_errinfo *ei)
{
    struct pg *pg = xcalloc(1, sizeof(*pg));
    int err;

    pg->conn = PQconnectdb(target);
    if (!pg->conn) {
        free(pg);
        return souk_fail(ei, SOUK_UNAVAILABLE, "cannot connect to PostgreSQL: out of memory");
    }
    c->h = pg;
    if ((err = session_setup(c, ei)))
        pg_disconnect(c);
    return err;
}

static int pg_reconnect(struct db_conn *c, const char *target, struct souk_errinfo *ei)
{
    if (!c->h)
        return pg_connect(c, target, ei);
    db_cache_clear(&c->cache, free); /* prepared statements die with the session */
    PQreset(conn_of(c));
    return session_setup(c, ei);
}

/* ---- statements --------------------------------------------------------- */

/* The prepared statement name for sql ("" = unnamed, when the cache is full). */
static int prepare(struct db_conn *c, const char *sql, const char **name, struct souk_errinfo *ei)
{
    struct pg *pg = c->h;
    char buf[32];
    PGresult *res;
    int cached;

    if ((*name = db_cache_get(&c->cache, sql)))
        return 0;
    snprintf(buf, sizeof(buf), "souk_%u", pg->next_name++);
    cached = c->cache.n < DB_CACHE_MAX;
    res = PQprepare(pg->conn, cached ? buf : "", sql, 0, NULL);
    if (!res_ok(res))
        return pg_fail(c, res, sql, ei);
    PQclear(res);
    if (!cached) {
        *name = "";
        return 0;
    }
    *name = xstrdup(buf);
    db_cache_put(&c->cache, sql, (void *)*name);
    return 0;
}

/* Text values of the parameters, in one allocation (free it). */
static const char **param_values(const struct db_param *p, int np)
{
    const char **v;
    char *ints;

    if (np == 0)
        return NULL;
    v = xmalloc((size_t)np * (sizeof(char *) + PG_INT_LEN));
    ints = (char *)(v + np);
    for (int i = 0; i < np; i++) {
        char *s = ints + (size_t)i * PG_INT_LEN;

        switch (p[i].type) {
        case DB_TEXT:
            v[i] = p[i].s; /* NULL -> SQL NULL */
            break;
        case DB_INT:
            snprintf(s, PG_INT_LEN, "%" PRId64, p[i].i);
            v[i] = s;
            break;
        case DB_BOOL:
            v[i] = p[i].i ? "true" : "false";
            break;
        default:
            v[i] = NULL;
            break;
        }
    }
    return v;
}

static struct db_res *materialise(const PGresult *res)
{
    int ncols = PQnfields(res), nrows = PQntuples(res);
    struct db_res *r = db_res_new(ncols);

    for (int col = 0; col < ncols; col++)
        db_res_set_name(r, col, PQfname(res, col));
    for (int row = 0; row < nrows; row++) {
        db_res_add_row(r);
        for (int col = 0; col < ncols; col++) {
            if (PQgetisnull(res, row, col))
                continue;
            db_res_set_cell(r, col, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
        }
    }
    return r;
}

static int pg_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                    struct db_res **out, int64_t *changed, struct souk_errinfo *ei)
{
    const char *name, **values;
    PGresult *res;
    int err;

    if (db_pg_tx_pooling()) {
        values = param_values(p, np);
        res = PQexecParams(conn_of(c), sql, np, NULL, values, NULL, NULL, 0);
    } else {
        if ((err = prepare(c, sql, &name, ei)))
            return err;
        values = param_values(p, np);
        res = PQexecPrepared(conn_of(c), name, np, values, NULL, NULL, 0);
    }
    free(values);
    if (!res_ok(res))
        return pg_fail(c, res, sql, ei);
    if (changed) {
        const char *n = PQcmdTuples(res);

        *changed = *n ? strtoll(n, NULL, 10) : 0;
    }
    if (out)
        *out = materialise(res);
    PQclear(res);
    return 0;
}

/* ---- pipelines ----------------------------------------------------------
 * db_exec_later's queue goes with the statement (or the COMMIT) that needs
 * an answer: all of them sent in pipeline mode with one Sync, so the server
 * runs them in order and the whole costs one round trip. Statements not yet
 * prepared in this session are prepared first (PQprepare is not allowed in
 * a pipeline). After a failure the server skips the rest up to the Sync
 * (PGRES_PIPELINE_ABORTED), and the transaction is in error. */

#define PG_PIPE_MAX (DB_LATER_MAX + 1)

struct pipe_stmt {
    const char *sql, *name; /* name NULL: unprepared (PQsendQueryParams) */
    const struct db_param *p;
    int np;
};

static int pipe_send(PGconn *pc, const struct pipe_stmt *st)
{
    const char **values = param_values(st->p, st->np);
    int ok = st->name ? PQsendQueryPrepared(pc, st->name, st->np, values, NULL, NULL, 0)
                      : PQsendQueryParams(pc, st->sql, st->np, NULL, values, NULL, NULL, 0);
    free(values);
    return ok;
}

/* Reads the results of n sent statements and the Sync; the last one's rows
 * and count go to out/changed. The first failure wins. */
static int pipe_read(struct db_conn *c, const struct pipe_stmt *st, int n, struct db_res **out,
                     int64_t *changed, struct souk_errinfo *ei)
{
    PGconn *pc = conn_of(c);
    PGresult *res;
    int err = 0;

    for (int i = 0; i < n; i++) {
        if (!(res = PQgetResult(pc)))
            return err ? err : pg_fail(c, NULL, st[i].sql, ei);
        if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED || (err && !res_ok(res))) {
            PQclear(res);
        } else if (!res_ok(res)) {
            err = pg_fail(c, res, st[i].sql, ei);
        } else {
            if (i == n - 1 && changed) {
                const char *k = PQcmdTuples(res);
                *changed = *k ? strtoll(k, NULL, 10) : 0;
            }
            if (i == n - 1 && out)
                *out = materialise(res);
            PQclear(res);
        }
        while ((res = PQgetResult(pc))) /* the end of this statement's results */
            PQclear(res);
    }
    res = PQgetResult(pc);
    if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && !err)
        err = pg_fail(c, res, "(pipeline sync)", ei);
    else
        PQclear(res);
    return err;
}

static int pg_pipeline(struct db_conn *c, const struct db_later *q, const char *sql,
                       const struct db_param *p, int np, int script, struct db_res **out,
                       int64_t *changed, struct souk_errinfo *ei)
{
    struct pipe_stmt st[PG_PIPE_MAX];
    PGconn *pc = conn_of(c);
    int n = 0, sent = 0, err;

    for (; q && n < PG_PIPE_MAX - 1; q = q->next)
        st[n++] = (struct pipe_stmt){q->sql, NULL, q->p, q->np};
    if (sql)
        st[n++] = (struct pipe_stmt){sql, NULL, p, np};
    for (int i = 0; i < n; i++)
        if (!db_pg_tx_pooling() && !(script && sql && i == n - 1) &&
            (err = prepare(c, st[i].sql, &st[i].name, ei)))
            return err;
    if (!PQenterPipelineMode(pc))
        return pg_fail(c, NULL, "(pipeline)", ei);
    while (sent < n && pipe_send(pc, &st[sent]))
        sent++;
    if (sent < n || !PQpipelineSync(pc)) {
        c->broken = 1; /* the session is in an unknown state: start a new one */
        return pg_fail(c, NULL, st[sent < n ? sent : n - 1].sql, ei);
    }
    err = pipe_read(c, st, n, out, changed, ei);
    if (!PQexitPipelineMode(pc)) {
        c->broken = 1;
        if (!err)
            err = pg_fail(c, NULL, "(pipeline end)", ei);
    }
    return err;
}

static int pg_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei)
{
    PGresult *res = PQexec(conn_of(c), sql);

    if (!res_ok(res))
        return pg_fail(c, res, sql, ei);
    PQclear(res);
    return 0;
}

/* 1: in a transaction, 2: in a failed one, 0: idle (or no session). */
static int pg_tx_open(struct db_conn *c)
{
    if (!c->h)
        return 0;
    switch (PQtransactionStatus(conn_of(c))) {
    case PQTRANS_INTRANS:
    case PQTRANS_ACTIVE:
        return 1;
    case PQTRANS_INERROR:
        return 2;
    default:
        return 0;
    }
}

/* A pooled connection is idle (no query in flight, no LISTEN), so the server
 * has nothing to tell it but a goodbye (57P01 on a shutdown, an idle
 * timeout) or the close itself: anything to read, or a hang-up, means it is
 * gone. One poll without waiting, no round trip. */
static int pg_idle_lost(struct db_conn *c)
{
    PGconn *pc = conn_of(c);
    struct pollfd p;

    if (!pc || PQstatus(pc) == CONNECTION_BAD)
        return 1;
    p.fd = PQsocket(pc);
    p.events = POLLIN;
    p.revents = 0;
    if (p.fd < 0)
        return 1;
    return poll(&p, 1, 0) > 0;
}

const struct db_driver db_driver_pgsql = {
    .dialect = DB_PGSQL,
    .begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .reconnect = pg_reconnect,
    .query = pg_query,
    .script = pg_script,
    .tx_open = pg_tx_open,
    .idle_lost = pg_idle_lost,
    .pipeline = pg_pipeline,
};
