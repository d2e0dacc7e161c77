/* db.h - the one database interface of souk.
 *
 * Only src/db/ includes sqlite3.h or libpq-fe.h. Everything else talks to a
 * struct db (a pool of connections to one database) through this header:
 * prepared statements only, `$1`-style parameters in both dialects, typed
 * parameters, materialised results, transactions with automatic retry.
 *
 * Schema conventions (both dialects): primary keys are UUIDv7 text (uuid in
 * PostgreSQL), money is BIGINT minor units, timestamps are BIGINT
 * microseconds since the epoch (UTC) in columns named *_at, booleans are
 * BOOLEAN in PostgreSQL and INTEGER 0/1 in SQLite (read them with
 * db_bool()).
 */
#ifndef SOUK_DB_H
#define SOUK_DB_H

#include <stdint.h>
#include <stddef.h>
#include "core/err.h"

enum db_dialect { DB_SQLITE = 1, DB_PGSQL = 2 };

struct db;      /* a pool */
struct db_conn; /* one connection, held by one thread at a time */
struct db_res;  /* a materialised result */

enum db_type { DB_NULL = 0, DB_TEXT, DB_INT, DB_BOOL };
struct db_param {
    enum db_type type;
    const char *s;
    int64_t i;
};
#define DBT(x) ((struct db_param){.type = DB_TEXT, .s = (x)})  /* NULL pointer -> SQL NULL */
#define DBI(x) ((struct db_param){.type = DB_INT, .i = (int64_t)(x)})
#define DBB(x) ((struct db_param){.type = DB_BOOL, .i = (x) ? 1 : 0})
#define DBNULL ((struct db_param){.type = DB_NULL})
#define DB_PARAMS(...) ((const struct db_param[]){__VA_ARGS__}), \
    (int)(sizeof((const struct db_param[]){__VA_ARGS__}) / sizeof(struct db_param))
#define DB_NOPARAMS NULL, 0

/* Opens a pool of `size` connections. URL forms:
 *   sqlite:////abs/path.db  sqlite:///rel/path.db  sqlite://:memory: (one shared
 *   in-memory database, pool size forced to 1)
 *   postgres://user:pass@host:port/db?sslmode=disable  (also postgresql://)
 * SQLite connections use WAL, busy_timeout 5 s, foreign_keys on.
 * PostgreSQL sessions use TimeZone UTC.  0 ok, else an error with detail. */
int db_open(const char *url, int size, struct db **out, struct souk_errinfo *ei);
void db_close(struct db *db); /* accepts NULL; waits for connections to be returned */
enum db_dialect db_dialect(const struct db *db);
int db_pool_size(const struct db *db);
int db_pool_in_use(const struct db *db); /* for /metrics */

/* Takes a connection, waiting up to timeout_ms (-1: forever). NULL on timeout. */
struct db_conn *db_acquire(struct db *db, int timeout_ms);
void db_release(struct db_conn *c);
enum db_dialect db_conn_dialect(const struct db_conn *c);

/* Runs one prepared statement (cached per connection by its SQL text).
 * `out` may be NULL when no rows are wanted. Errors: SOUK_CONFLICT for a
 * unique/primary-key violation, SOUK_INVALID for a check/foreign-key/not-null
 * violation or bad input text, SOUK_RETRY for SQLITE_BUSY/LOCKED and
 * SQLSTATE 40001/40P01, SOUK_UNAVAILABLE for a lost connection,
 * SOUK_INTERNAL otherwise (detail has the driver message; it is logged, not
 * shown to clients). */
int db_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
             struct db_res **out, struct souk_errinfo *ei);
/* Same, discarding rows; *changed (may be NULL) gets the affected row count. */
int db_exec(struct db_conn *c, const char *sql, const struct db_param *p, int np,
            int64_t *changed, struct souk_errinfo *ei);
/* A write whose answer the caller does not need now (an INSERT of a history
 * row, a notification, a job): inside db_tx_run on PostgreSQL it is queued
 * and sent with the next statement of the transaction, or with its COMMIT,
 * in one round trip (libpq pipeline mode); its failure, if any, is returned
 * by that statement (or by db_tx_run), with the same classification.
 * Elsewhere (SQLite, outside a transaction) it runs at once, like db_exec.
 * Use it only where no caller tells one failure of this statement from
 * another; the statements of a transaction still run in the order given. */
int db_exec_later(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  struct souk_errinfo *ei);
/* Runs a script of several statements without parameters (migrations only). */
int db_exec_script(struct db_conn *c, const char *sql, struct souk_errinfo *ei);

int db_nrows(const struct db_res *r);
int db_ncols(const struct db_res *r);
const char *db_colname(const struct db_res *r, int col);
const char *db_get(const struct db_res *r, int row, int col); /* NULL for SQL NULL */
int db_isnull(const struct db_res *r, int row, int col);
int64_t db_int(const struct db_res *r, int row, int col);     /* NULL -> 0 */
int db_bool(const struct db_res *r, int row, int col);        /* 't'/'true'/1 -> 1 */
void db_res_free(struct db_res *r);                          /* accepts NULL */

/* Transactions. db_tx_run takes a connection, BEGINs (IMMEDIATE on SQLite,
 * READ COMMITTED on PostgreSQL), calls fn, COMMITs when fn returns 0 and
 * rolls back otherwise. When fn or COMMIT fails with SOUK_RETRY the whole
 * transaction is run again (up to 8 times, with a short jittered backoff),
 * so fn must have no effects outside the database, or be safe to repeat.
 * After-commit hooks registered with db_after_commit run only once the
 * transaction has committed (in the same thread). */
typedef int (*db_tx_fn)(struct db_conn *c, void *arg, struct souk_errinfo *ei);
int db_tx_run(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei);
/* One round trip to the database (readiness checks). 0 when it answered. */
int db_ping(struct db *db, struct souk_errinfo *ei);
/* Runs fn on a connection without a transaction (autocommit statements). */
int db_run(struct db *db, db_tx_fn fn, void *arg, struct souk_errinfo *ei);
/* Inside db_tx_run: run hook(arg) after a successful COMMIT; `arg` is freed
 * with free_arg (may be NULL) whether or not the hook ran. */
void db_after_commit(struct db_conn *c, void (*hook)(void *arg), void *arg,
                     void (*free_arg)(void *arg));
/* Set while inside db_tx_run on this connection. */
int db_in_tx(const struct db_conn *c);

/* Read replica (replica.c). db_replica_attach gives a PostgreSQL pool a pool of `size`
 * connections to a streaming-replication hot standby (SOUK_DATABASE_REPLICA_URL); a standby
 * that is down at start is connected to later. redis_url (may be NULL or "") shares the
 * writers' positions between nodes. 0 ok; SOUK_INVALID for a URL that is not PostgreSQL's.
 *
 * db_read_pool(db, who): the pool a read that may lag should use for caller `who` (a user id,
 * NULL when anonymous): db itself when it has no replica, when the replica failed a moment
 * ago, or when `who` wrote something the standby has not replayed yet (compared by WAL
 * position, LSN); the replica's pool otherwise. db_run on the replica's pool falls back to
 * the primary when the standby cannot answer. Only for reads (db_run), never db_tx_run.
 *
 * db_note_write(db, who): after a request of `who` that may have written (committed): reads
 * the primary's WAL position and keeps it for `who` on this node and, with Redis, for every
 * node (60 s). No-op without a replica. */
int db_replica_attach(struct db *db, const char *url, int size, const char *redis_url,
                      struct souk_errinfo *ei);
int db_has_replica(const struct db *db);
struct db *db_read_pool(struct db *db, const char *who);
void db_note_write(struct db *db, const char *who);

/* Fault injection for tests: when n > 0, the n-th db_query/db_exec from
 * now on fails with SOUK_INTERNAL (SOUK_DB_FAIL_NTH in the environment). */
void db_fault_fail_nth(long n);

/* Migrations (migrate.c). The embedded list for the dialect is applied in
 * order, each file in its own transaction, recorded in schema_migrations
 * (version, name, sha256 checksum, applied_at). An applied file whose text
 * changed stops everything with an error. progress (may be NULL) is told of
 * each file applied. Returns 0 and *applied = how many were new. */
struct db_migration {
    int version;
    const char *name;
    const char *sql;
};
int db_migrate(struct db *db, int *applied, void (*progress)(const struct db_migration *m),
               struct souk_errinfo *ei);
/* The embedded migrations (generated into build/gen/migrations.c). */
extern const struct db_migration db_migrations_sqlite[];
extern const int db_migrations_sqlite_count;
extern const struct db_migration db_migrations_pgsql[];
extern const int db_migrations_pgsql_count;
/* For tests: apply a given list. */
int db_migrate_list(struct db *db, const struct db_migration *list, int n, int *applied,
                    void (*progress)(const struct db_migration *m), struct souk_errinfo *ei);

#endif
