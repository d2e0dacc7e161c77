/* internal.h - private contract between the files of src/db/.
 *
 * db.c owns the pool, parameters, results, transactions, hooks, fault
 * injection and the translation of errors into souk errors. A driver
 * (sqlite.c, pgsql.c) fills a struct db_driver: it opens one connection,
 * runs one prepared statement into a materialised struct db_res, runs a
 * multi-statement script, and classifies its own error codes. Nothing here is
 * visible outside src/db/.
 *
 * Threads: a struct db_conn is used by one thread at a time (the one that
 * acquired it), so nothing inside a connection (driver handle, statement
 * cache, hooks) is locked. Only the pool in struct db is shared.
 */
#ifndef SOUK_DB_INTERNAL_H
#define SOUK_DB_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include "db/db.h"

/* ---- statement cache: SQL text -> driver value (per connection) -------- */

#define DB_CACHE_BUCKETS 256
#define DB_CACHE_MAX     1024 /* beyond this, statements are prepared for one use */

struct db_cache_entry {
    char *sql;
    void *val;
    struct db_cache_entry *next;
};

struct db_cache {
    struct db_cache_entry *bucket[DB_CACHE_BUCKETS];
    int n;
};

void *db_cache_get(const struct db_cache *c, const char *sql);
/* Stores val under a copy of sql. -1 (nothing stored) when the cache is full. */
int db_cache_put(struct db_cache *c, const char *sql, void *val);
/* Empties the cache, passing each value to free_val (may be NULL). */
void db_cache_clear(struct db_cache *c, void (*free_val)(void *val));

/* ---- materialised results ---------------------------------------------- */

struct db_res *db_res_new(int ncols);
void db_res_set_name(struct db_res *r, int col, const char *name);
/* Appends an empty row (every cell NULL) and returns its index. */
int db_res_add_row(struct db_res *r);
/* Sets a cell of the last row; s == NULL stores SQL NULL. */
void db_res_set_cell(struct db_res *r, int col, const char *s, size_t len);

/* ---- the pool ------------------------------------------------------------ */

struct db_replica; /* replica.c */

struct db {
    const struct db_driver *drv;
    char *target; /* file path or libpq conninfo (may hold a password: never log) */
    int size, nfree;
    struct db_conn *conns; /* size connections */
    struct db_conn **free; /* stack of the nfree idle ones */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection came back */
    struct db_replica *rep; /* on a primary: its read replica, or NULL */
    struct db *primary;     /* on a replica's pool: the primary it falls back to */
};

/* db_open; with lazy, a connection that cannot be made now is left broken (made when
 * taken) instead of failing the open (a replica may be down when souk starts). */
int db_open_pool(const char *url, int size, int lazy, struct db **out, struct souk_errinfo *ei);
/* db_run on exactly this pool (no fallback from a replica to its primary). */
int db_run_here(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei);
/* replica.c: closes and frees db's replica, if any (db_close calls it). */
void db_replica_detach(struct db *db);
/* replica.c: a read on db's replica failed with err: reads go to the primary for a while. */
void db_replica_failed(struct db *primary, int err, const char *detail);

/* ---- connections and drivers ------------------------------------------- */

struct db_hook {
    void (*fn)(void *arg);
    void *arg;
    void (*free_arg)(void *arg);
    struct db_hook *next;
};

struct db_conn {
    struct db *db;
    const struct db_driver *drv; /* the pool's driver */
    void *h;                     /* the driver's connection state */
    struct db_cache cache;       /* SQL text -> sqlite3_stmt* or PostgreSQL statement name */
    int broken;                  /* the connection was lost: reconnect on next acquire */
    int in_tx;                   /* inside db_tx_run */
    struct db_hook *hooks, **hooks_tail; /* after-commit hooks, in registration order */
    struct db_later *later, **later_tail; /* db_exec_later statements not sent yet */
    int nlater;
};

/* A statement of db_exec_later waiting to be sent, with copies of its SQL
 * and parameters (one allocation). */
struct db_later {
    const char *sql;
    const struct db_param *p;
    int np;
    struct db_later *next;
};

#define DB_LATER_MAX 64 /* queued statements beyond this are sent at once */

/* db.c: takes c's queue of later statements (the caller frees it with
 * db_later_free); drops it when the transaction ends without a commit. */
struct db_later *db_later_take(struct db_conn *c);
void db_later_free(struct db_later *q);

struct db_driver {
    enum db_dialect dialect;
    const char *begin_sql; /* starts a transaction with the isolation we want */
    /* Opens c->h to target (a file path or a libpq conninfo). */
    int (*connect)(struct db_conn *c, const char *target, struct souk_errinfo *ei);
    /* Closes c->h and empties the statement cache; c->h may be NULL. */
    void (*disconnect)(struct db_conn *c);
    /* Re-establishes a lost connection (cache emptied). 0 ok. */
    int (*reconnect)(struct db_conn *c, const char *target, struct souk_errinfo *ei);
    /* Runs one statement. out and changed may be NULL. */
    int (*query)(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                 struct db_res **out, int64_t *changed, struct souk_errinfo *ei);
    /* Runs several statements without parameters. */
    int (*script)(struct db_conn *c, const char *sql, struct souk_errinfo *ei);
    /* Non-zero when the server side has a transaction open (or failed). */
    int (*tx_open)(struct db_conn *c);
    /* Optional: non-zero when an idle connection is known to be gone (the
     * server said goodbye or closed it); costs no round trip. */
    int (*idle_lost)(struct db_conn *c);
    /* Optional: sends the statements of q, then sql (may be NULL; with
     * script set, a parameterless command such as COMMIT), in one round trip,
     * and reads all their results: the first failure is returned, the
     * statements after it did nothing. out/changed are sql's. Without it,
     * db_exec_later runs each statement at once. */
    int (*pipeline)(struct db_conn *c, const struct db_later *q, const char *sql,
                    const struct db_param *p, int np, int script, struct db_res **out,
                    int64_t *changed, struct souk_errinfo *ei);
};

extern const struct db_driver db_driver_sqlite;
extern const struct db_driver db_driver_pgsql;

/* Turns a classified driver failure into the souk error: sets ei->detail,
 * logs (error for SOUK_INTERNAL, warning for SOUK_UNAVAILABLE, debug for the
 * rest), and marks the connection broken on SOUK_UNAVAILABLE. `sql` (may be
 * NULL) goes into the log only; parameters never do. Returns err. */
int db_fail_driver(struct db_conn *c, int err, const char *msg, const char *sql,
                   struct souk_errinfo *ei);

/* db_query/db_exec for src/db itself (migrations): not counted by fault
 * injection. out and changed may be NULL. */
int db_conn_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  struct db_res **out, int64_t *changed, struct souk_errinfo *ei);
/* Runs a script of SQL on c (not counted by fault injection). */
int db_conn_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei);
/* Runs fn inside one transaction on c (begin, fn, commit or rollback), no
 * retry; the hooks are left on c for the caller (db_hooks_take). */
int db_tx_once(struct db_conn *c, db_tx_fn fn, void *arg, struct souk_errinfo *ei);

/* pgsql.c: 1 when SOUK_DB_PREPARED=0 (pgbouncer transaction pooling): no
 * prepared statements, no session state, no session advisory locks. */
int db_pg_tx_pooling(void);

#endif
