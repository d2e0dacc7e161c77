/* db.c - the connection pool and the dialect-neutral half of db.h.
 *
 * db_open parses the URL, picks a driver (sqlite.c or pgsql.c) and opens
 * `size` connections up front. Threads take one with db_acquire and give it
 * back with db_release; the pool is a stack of free connections guarded by a
 * mutex and a condition variable (on CLOCK_MONOTONIC, so acquire timeouts do
 * not jump with the wall clock). A connection the driver found lost is
 * marked broken and is reconnected on its next acquire.
 *
 * db_query/db_exec check the fault injector, then hand the statement to the
 * driver. Transactions and hooks are in tx.c, results in res.c.
 *
 * Thread safety: every function taking a struct db is safe from any thread;
 * a struct db_conn belongs to the thread that acquired it until released.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "db/internal.h"

/* ---- fault injection ---------------------------------------------------- */

static atomic_long fault_countdown; /* > 0: the call that takes it to 0 fails */

void db_fault_fail_nth(long n)
{
    atomic_store(&fault_countdown, n > 0 ? n : 0);
}

static int fault_hit(void)
{
    long n = atomic_load(&fault_countdown);

    while (n > 0 && !atomic_compare_exchange_weak(&fault_countdown, &n, n - 1))
        ;
    return n == 1;
}

static void fault_from_env(void)
{
    const char *s = getenv("SOUK_DB_FAIL_NTH");

    if (s && *s)
        db_fault_fail_nth(strtol(s, NULL, 10));
}

/* ---- errors ------------------------------------------------------------- */

int db_fail_driver(struct db_conn *c, int err, const char *msg, const char *sql,
                   struct souk_errinfo *ei)
{
    const char *s = sql ? sql : "-";

    switch (err) {
    case SOUK_INTERNAL:
        log_error("db: %s (sql: %.300s)", msg, s);
        return souk_fail(ei, err, "%s", msg);
    case SOUK_UNAVAILABLE:
        if (c)
            c->broken = 1;
        log_warn("db: connection lost: %s", msg);
        return souk_fail(ei, err, "database unavailable");
    case SOUK_CONFLICT:
        log_debug("db: %s", msg);
        return souk_fail(ei, err, "already exists");
    case SOUK_INVALID:
        log_debug("db: %s", msg);
        return souk_fail(ei, err, "invalid data");
    case SOUK_RETRY:
        log_debug("db: %s", msg);
        return souk_fail(ei, err, "database busy");
    default:
        return souk_fail(ei, err, "%s", msg);
    }
}

/* ---- URL ---------------------------------------------------------------- */

/* sqlite:////abs, sqlite:///rel, sqlite://:memory:, postgres[ql]://... */
static int parse_url(const char *url, const struct db_driver **drv, char **target, int *size,
                     struct souk_errinfo *ei)
{
    if (!url)
        return souk_fail(ei, SOUK_INVALID, "no database URL");
    if (strncmp(url, "sqlite://", 9) == 0) {
        const char *rest = url + 9;

        *drv = &db_driver_sqlite;
        if (strcmp(rest, ":memory:") == 0) {
            *size = 1; /* one connection = one shared in-memory database */
            *target = xstrdup(":memory:");
            return 0;
        }
        if (rest[0] != '/' || rest[1] == '\0')
            return souk_fail(ei, SOUK_INVALID, "bad sqlite URL (want sqlite:///path)");
        *target = xstrdup(rest + 1);
        return 0;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        *drv = &db_driver_pgsql;
        *target = xstrdup(url);
        return 0;
    }
    return souk_fail(ei, SOUK_INVALID, "unsupported database URL scheme");
}

/* ---- pool --------------------------------------------------------------- */

static void pool_init_sync(struct db *db)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void pool_free(struct db *db)
{
    for (int i = 0; i < db->size; i++)
        db->drv->disconnect(&db->conns[i]); /* also empties the statement cache */
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->mu);
    free(db->conns);
    free(db->free);
    free(db->target);
    free(db);
}

int db_open_pool(const char *url, int size, int lazy, struct db **out, struct souk_errinfo *ei)
{
    struct db *db = xcalloc(1, sizeof(*db));
    int err;

    *out = NULL;
    fault_from_env();
    if ((err = parse_url(url, &db->drv, &db->target, &size, ei))) {
        free(db);
        return err;
    }
    db->size = size > 0 ? size : 1;
    db->conns = xcalloc((size_t)db->size, sizeof(*db->conns));
    db->free = xcalloc((size_t)db->size, sizeof(*db->free));
    pool_init_sync(db);
    for (int i = 0; i < db->size; i++) {
        struct db_conn *c = &db->conns[i];

        c->db = db;
        c->drv = db->drv;
        c->hooks_tail = &c->hooks;
        c->later_tail = &c->later;
        if ((err = db->drv->connect(c, db->target, ei))) {
            if (!lazy) {
                pool_free(db);
                return err;
            }
            c->broken = 1; /* tried again when taken */
            souk_errinfo_cleanup(ei);
        }
        db->free[db->nfree++] = c;
    }
    *out = db;
    return 0;
}

int db_open(const char *url, int size, struct db **out, struct souk_errinfo *ei)
{
    return db_open_pool(url, size, 0, out, ei);
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db_replica_detach(db);
    pthread_mutex_lock(&db->mu);
    while (db->nfree < db->size)
        pthread_cond_wait(&db->cv, &db->mu);
    pthread_mutex_unlock(&db->mu);
    pool_free(db);
}

enum db_dialect db_dialect(const struct db *db)
{
    return db->drv->dialect;
}

int db_pool_size(const struct db *db)
{
    return db->size;
}

int db_pool_in_use(const struct db *db)
{
    struct db *m = (struct db *)db; /* the mutex is not part of the value */
    int n;

    pthread_mutex_lock(&m->mu);
    n = m->size - m->nfree;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void reconnect(struct db_conn *c)
{
    struct souk_errinfo ei = {0};

    if (c->drv->reconnect(c, c->db->target, &ei) == 0) {
        c->broken = 0;
        log_info("db: connection re-established");
    } else {
        log_warn("db: reconnect failed: %s", ei.detail);
    }
    souk_errinfo_cleanup(&ei);
}

struct db_conn *db_acquire(struct db *db, int timeout_ms)
{
    struct db_conn *c;
    struct timespec dl;

    if (timeout_ms >= 0)
        deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&db->mu);
    while (db->nfree == 0) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&db->cv, &db->mu)
                                : pthread_cond_timedwait(&db->cv, &db->mu, &dl);

        if (rc == ETIMEDOUT && db->nfree == 0) {
            pthread_mutex_unlock(&db->mu);
            return NULL;
        }
    }
    c = db->free[--db->nfree];
    pthread_mutex_unlock(&db->mu);
    if (!c->broken && c->drv->idle_lost && c->drv->idle_lost(c)) {
        log_warn("db: an idle connection was closed by the server");
        c->broken = 1;
    }
    if (c->broken)
        reconnect(c);
    return c;
}

/* A connection goes back clean: no open transaction, no pending hooks. */
static void conn_tidy(struct db_conn *c)
{
    struct db_hook *h = c->hooks, *next;

    for (; h; h = next) {
        next = h->next;
        if (h->free_arg)
            h->free_arg(h->arg);
        free(h);
    }
    c->hooks = NULL;
    c->hooks_tail = &c->hooks;
    c->in_tx = 0;
    db_later_free(db_later_take(c));
    if (!c->broken && c->drv->tx_open(c)) {
        struct souk_errinfo ei = {0};

        log_warn("db: connection released inside a transaction; rolling back");
        db_conn_script(c, "ROLLBACK", &ei);
        souk_errinfo_cleanup(&ei);
    }
}

void db_release(struct db_conn *c)
{
    struct db *db;

    if (!c)
        return;
    db = c->db;
    conn_tidy(c);
    pthread_mutex_lock(&db->mu);
    db->free[db->nfree++] = c;
    pthread_cond_broadcast(&db->cv); /* acquirers and db_close share cv */
    pthread_mutex_unlock(&db->mu);
}

enum db_dialect db_conn_dialect(const struct db_conn *c)
{
    return c->drv->dialect;
}

/* ---- statements --------------------------------------------------------- */

struct db_later *db_later_take(struct db_conn *c)
{
    struct db_later *q = c->later;

    c->later = NULL;
    c->later_tail = &c->later;
    c->nlater = 0;
    return q;
}

void db_later_free(struct db_later *q)
{
    while (q) {
        struct db_later *next = q->next;
        free(q);
        q = next;
    }
}

/* Sends what is queued on c, then sql (NULL: nothing more), in one round trip. */
static int send_queued(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                       int script, struct db_res **out, int64_t *changed,
                       struct souk_errinfo *ei)
{
    struct db_later *q = db_later_take(c);
    int err = c->drv->pipeline(c, q, sql, p, np, script, out, changed, ei);

    db_later_free(q);
    return err;
}

int db_conn_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  struct db_res **out, int64_t *changed, struct souk_errinfo *ei)
{
    if (!c || !sql || np < 0 || (np > 0 && !p))
        return souk_fail(ei, SOUK_INTERNAL, "db: bad arguments");
    if (c->broken)
        return souk_fail(ei, SOUK_UNAVAILABLE, "database unavailable");
    if (c->later)
        return send_queued(c, sql, p, np, 0, out, changed, ei);
    return c->drv->query(c, sql, p, np, out, changed, ei);
}

/* A copy of the statement in one allocation: the struct, the parameters,
 * then the SQL and the text values. */
static struct db_later *later_new(const char *sql, const struct db_param *p, int np)
{
    size_t len = sizeof(struct db_later) + (size_t)np * sizeof(struct db_param) + strlen(sql) + 1;
    struct db_param *cp;
    struct db_later *l;
    char *text;

    for (int i = 0; i < np; i++)
        if (p[i].type == DB_TEXT && p[i].s)
            len += strlen(p[i].s) + 1;
    l = xmalloc(len);
    cp = (struct db_param *)(l + 1);
    text = (char *)(cp + np);
    l->sql = text;
    text = stpcpy(text, sql) + 1;
    for (int i = 0; i < np; i++) {
        cp[i] = p[i];
        if (p[i].type == DB_TEXT && p[i].s) {
            cp[i].s = text;
            text = stpcpy(text, p[i].s) + 1;
        }
    }
    l->p = cp;
    l->np = np;
    l->next = NULL;
    return l;
}

int db_exec_later(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  struct souk_errinfo *ei)
{
    int err;

    if (!c || !c->in_tx || !c->drv->pipeline)
        return db_exec(c, sql, p, np, NULL, ei);
    if (!sql || np < 0 || (np > 0 && !p))
        return souk_fail(ei, SOUK_INTERNAL, "db: bad arguments");
    if (fault_hit()) {
        log_warn("db: injected fault (sql: %.300s)", sql);
        return souk_fail(ei, SOUK_INTERNAL, "injected database fault");
    }
    if (c->broken)
        return souk_fail(ei, SOUK_UNAVAILABLE, "database unavailable");
    if (c->nlater >= DB_LATER_MAX && (err = send_queued(c, NULL, NULL, 0, 0, NULL, NULL, ei)))
        return err;
    *c->later_tail = later_new(sql, p, np);
    c->later_tail = &(*c->later_tail)->next;
    c->nlater++;
    return 0;
}

static int run(struct db_conn *c, const char *sql, const struct db_param *p, int np,
               struct db_res **out, int64_t *changed, struct souk_errinfo *ei)
{
    if (fault_hit()) {
        log_warn("db: injected fault (sql: %.300s)", sql ? sql : "-");
        return souk_fail(ei, SOUK_INTERNAL, "injected database fault");
    }
    return db_conn_query(c, sql, p, np, out, changed, ei);
}

int db_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
             struct db_res **out, struct souk_errinfo *ei)
{
    if (out)
        *out = NULL;
    return run(c, sql, p, np, out, NULL, ei);
}

int db_exec(struct db_conn *c, const char *sql, const struct db_param *p, int np, int64_t *changed,
            struct souk_errinfo *ei)
{
    if (changed)
        *changed = 0;
    return run(c, sql, p, np, NULL, changed, ei);
}

int db_conn_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei)
{
    if (c->broken)
        return souk_fail(ei, SOUK_UNAVAILABLE, "database unavailable");
    if (c->later) /* the queued writes go with it: COMMIT, say */
        return send_queued(c, sql, NULL, 0, 1, NULL, NULL, ei);
    return c->drv->script(c, sql, ei);
}

int db_exec_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei)
{
    if (!c || !sql)
        return souk_fail(ei, SOUK_INTERNAL, "db: bad arguments");
    return db_conn_script(c, sql, ei);
}
