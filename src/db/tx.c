/* tx.c - transactions with automatic retry, and after-commit hooks.
 *
 * db_tx_run: acquire a connection, BEGIN (IMMEDIATE on SQLite so that the
 * write lock is taken up front; READ COMMITTED on PostgreSQL), call fn,
 * COMMIT when it returned 0, ROLLBACK otherwise. A SOUK_RETRY from fn or
 * from COMMIT (busy SQLite, PostgreSQL serialization failure or deadlock)
 * runs the whole transaction again on a fresh connection, up to
 * DB_TX_ATTEMPTS times with a jittered backoff growing from ~1 ms.
 *
 * A BEGIN that finds the connection lost (the server restarted while it sat
 * in the pool) is tried once more on a reconnected connection: fn has not
 * run, so nothing is done twice.
 *
 * Hooks registered during the transaction run after COMMIT, in order, in the
 * calling thread, once the connection is back in the pool (so a hook may
 * use the database, even with a pool of one). Their args are freed whether
 * or not they ran; an attempt that is retried drops its hooks, and the
 * re-run of fn registers them again.
 *
 * Do not nest db_tx_run on the same db: the inner call would take a second
 * connection and, on SQLite, wait for the outer one's write lock.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "db/internal.h"

#define DB_TX_ATTEMPTS        8
#define DB_ACQUIRE_TIMEOUT_MS 30000

/* ---- hooks -------------------------------------------------------------- */

void db_after_commit(struct db_conn *c, void (*hook)(void *arg), void *arg,
                     void (*free_arg)(void *arg))
{
    struct db_hook *h;

    if (!c->in_tx) { /* autocommit: what was done is already committed */
        if (hook)
            hook(arg);
        if (free_arg)
            free_arg(arg);
        return;
    }
    h = xcalloc(1, sizeof(*h));
    h->fn = hook;
    h->arg = arg;
    h->free_arg = free_arg;
    *c->hooks_tail = h;
    c->hooks_tail = &h->next;
}

static struct db_hook *hooks_take(struct db_conn *c)
{
    struct db_hook *h = c->hooks;

    c->hooks = NULL;
    c->hooks_tail = &c->hooks;
    return h;
}

/* Runs (when run is set) and frees a list of hooks. */
static void hooks_finish(struct db_hook *h, int run)
{
    struct db_hook *next;

    for (; h; h = next) {
        next = h->next;
        if (run && h->fn)
            h->fn(h->arg);
        if (h->free_arg)
            h->free_arg(h->arg);
        free(h);
    }
}

int db_in_tx(const struct db_conn *c)
{
    return c && c->in_tx;
}

/* ---- one attempt -------------------------------------------------------- */

static void rollback_quiet(struct db_conn *c)
{
    struct souk_errinfo ei = {0};

    db_later_free(db_later_take(c)); /* what was not sent is not wanted */
    if (!c->broken && c->drv->tx_open(c))
        db_conn_script(c, "ROLLBACK", &ei);
    souk_errinfo_cleanup(&ei);
}

/* One attempt; *begun tells whether BEGIN went through (so fn ran). */
static int tx_attempt(struct db_conn *c, db_tx_fn fn, void *arg, int *begun,
                      struct souk_errinfo *ei)
{
    const struct db_driver *drv = c->drv;
    int err;

    c->in_tx = 1;
    err = db_conn_script(c, drv->begin_sql, ei);
    *begun = !err;
    if (!err)
        err = fn(c, arg, ei);
    /* PostgreSQL turns COMMIT of a failed transaction into a silent ROLLBACK */
    if (!err && drv->tx_open(c) == 2)
        err = souk_fail(ei, SOUK_INTERNAL, "transaction aborted by an earlier error");
    if (!err)
        err = db_conn_script(c, "COMMIT", ei);
    if (err)
        rollback_quiet(c);
    c->in_tx = 0;
    return err;
}

int db_tx_once(struct db_conn *c, db_tx_fn fn, void *arg, struct souk_errinfo *ei)
{
    int begun;

    return tx_attempt(c, fn, arg, &begun, ei);
}

/* ---- retry loop --------------------------------------------------------- */

static void backoff(int attempt)
{
    static _Thread_local unsigned seed;
    long base_us = 1000L << attempt; /* 1, 2, 4 ... 64 ms */
    long us;
    struct timespec ts;

    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    us = base_us + (long)(rand_r(&seed) % (unsigned)base_us); /* [base, 2 base) */
    ts.tv_sec = us / 1000000L;
    ts.tv_nsec = (us % 1000000L) * 1000L;
    nanosleep(&ts, NULL);
}

static void errinfo_reset(struct souk_errinfo *ei)
{
    if (!ei)
        return;
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof(*ei));
}

int db_tx_run(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei)
{
    int relost = 0;

    for (int attempt = 0;; attempt++) {
        struct db_conn *c = db_acquire(db, DB_ACQUIRE_TIMEOUT_MS);
        struct db_hook *hooks;
        int err, begun;

        if (!c)
            return souk_fail(ei, SOUK_UNAVAILABLE, "no database connection available");
        err = tx_attempt(c, fn, arg, &begun, ei);
        hooks = hooks_take(c);
        db_release(c);
        hooks_finish(hooks, err == 0);
        /* An idle connection the server dropped (a restart, an idle timeout)
         * fails at BEGIN, before fn ran: once, take a reconnected one. */
        if (err == SOUK_UNAVAILABLE && !begun && !relost++) {
            errinfo_reset(ei);
            attempt--;
            continue;
        }
        if (err != SOUK_RETRY)
            return err;
        if (attempt + 1 >= DB_TX_ATTEMPTS) {
            log_warn("db: transaction still busy after %d attempts", DB_TX_ATTEMPTS);
            return err;
        }
        errinfo_reset(ei);
        backoff(attempt);
    }
}

int db_run_here(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei)
{
    struct db_conn *c = db_acquire(db, DB_ACQUIRE_TIMEOUT_MS);
    int err;

    if (!c)
        return souk_fail(ei, SOUK_UNAVAILABLE, "no database connection available");
    err = fn(c, arg, ei);
    db_release(c);
    return err;
}

/* On a replica's pool, a read that finds the standby unreachable (or cancelled by a
 * recovery conflict) is run again on the primary: fn only reads, so running it twice is safe. */
int db_run(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei)
{
    int err = db_run_here(db, fn, arg, ei);

    if (err && db->primary && (err == SOUK_UNAVAILABLE || err == SOUK_RETRY)) {
        db_replica_failed(db->primary, err, ei->detail);
        souk_errinfo_cleanup(ei);
        err = db_run_here(db->primary, fn, arg, ei);
    }
    return err;
}

static int ping(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    (void)arg;
    return db_query(c, "SELECT 1", DB_NOPARAMS, NULL, ei);
}

int db_ping(struct db *db, struct souk_errinfo *ei)
{
    return db_run(db, ping, NULL, ei);
}
