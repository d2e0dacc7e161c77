/* migrate.c - schema migrations.
 *
 * The migrations of a dialect are the files src/db/migrations/<dialect>/
 * NNNN_name.sql, embedded into the binary by scripts/embed.sh. They are
 * applied in version order, each in its own transaction together with its
 * row in schema_migrations (version, name, checksum = hex SHA-256 of the
 * text, applied_at in microseconds). Before anything is applied the
 * recorded rows are checked against the binary: a file whose text changed
 * since it was applied, or a version the binary does not know (a newer
 * binary migrated this database), stops everything with SOUK_PRECONDITION.
 *
 * Two nodes starting at once: on PostgreSQL a session advisory lock is held
 * for the whole run, so the second waits and then finds nothing to do
 * (behind pgbouncer, SOUK_DB_PREPARED=0, a session lock would outlive its
 * transaction on some server session: each migration's transaction and the
 * table's creation take pg_advisory_xact_lock instead). On
 * SQLite BEGIN IMMEDIATE serialises writers, and each transaction checks
 * again that its version is still missing.
 *
 * Migration statements bypass fault injection (db_conn_query).
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/internal.h"

#define MIGRATE_LOCK_KEY   "7266182720428388711" /* pg advisory lock id for migrations */
#define MIGRATE_ACQUIRE_MS 30000

#define SQL_TABLE                                                                                  \
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "                  \
    "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)"
#define SQL_APPLIED "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
#define SQL_ONE     "SELECT checksum FROM schema_migrations WHERE version = $1"
#define SQL_RECORD                                                                                 \
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "                         \
    "VALUES ($1, $2, $3, $4)"

typedef char checksum_hex[crypto_hash_sha256_BYTES * 2 + 1];

static void checksum(const char *sql, checksum_hex out)
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
    sodium_bin2hex(out, sizeof(checksum_hex), h, sizeof(h));
}

/* ---- checks ------------------------------------------------------------- */

static int check_list(const struct db_migration *list, int n, struct souk_errinfo *ei)
{
    for (int i = 0; i < n; i++)
        if (list[i].version <= 0 || !list[i].sql || !list[i].name ||
            (i > 0 && list[i].version <= list[i - 1].version))
            return souk_fail(ei, SOUK_INTERNAL, "migration list out of order at %d",
                             list[i].version);
    return 0;
}

static const struct db_migration *find(const struct db_migration *list, int n, int64_t version)
{
    for (int i = 0; i < n; i++)
        if (list[i].version == version)
            return &list[i];
    return NULL;
}

/* One recorded row against the binary's list. */
static int check_applied(const struct db_migration *list, int n, int64_t version, const char *name,
                         const char *sum, struct souk_errinfo *ei)
{
    const struct db_migration *m = find(list, n, version);
    checksum_hex want;

    if (!m && (n == 0 || version > list[n - 1].version))
        return souk_fail(ei, SOUK_PRECONDITION,
                         "database has migration %04d_%s.sql, newer than this binary knows "
                         "(up to %d): run a newer souk",
                         (int)version, name ? name : "?", n ? list[n - 1].version : 0);
    if (!m)
        return souk_fail(ei, SOUK_PRECONDITION,
                         "database has migration %04d_%s.sql, unknown to this binary", (int)version,
                         name ? name : "?");
    checksum(m->sql, want);
    if (!sum || strcmp(sum, want) != 0)
        return souk_fail(ei, SOUK_PRECONDITION,
                         "migration %04d_%s.sql was changed after it was applied "
                         "(checksum mismatch); restore the file and add a new migration",
                         m->version, m->name);
    return 0;
}

static int verify(struct db_conn *c, const struct db_migration *list, int n,
                  struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_conn_query(c, SQL_APPLIED, NULL, 0, &r, NULL, ei);

    for (int row = 0; !err && row < db_nrows(r); row++)
        err = check_applied(list, n, db_int(r, row, 0), db_get(r, row, 1), db_get(r, row, 2), ei);
    db_res_free(r);
    return err;
}

/* ---- applying ----------------------------------------------------------- */

struct apply {
    const struct db_migration *m;
    int done; /* set when this run applied it */
};

static int apply_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct apply *a = arg;
    struct db_res *r;
    checksum_hex sum;
    int err, present;

    checksum(a->m->sql, sum);
    if (db_conn_dialect(c) == DB_PGSQL && db_pg_tx_pooling() &&
        (err = db_conn_query(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", NULL, 0,
                             NULL, NULL, ei)))
        return err; /* behind pgbouncer: the lock lives as long as this transaction */
    if ((err = db_conn_query(c, SQL_ONE, DB_PARAMS(DBI(a->m->version)), &r, NULL, ei)))
        return err;
    present = db_nrows(r) > 0;
    db_res_free(r);
    if (present) /* another node got here first (it was verified when it read the list) */
        return 0;
    if ((err = db_exec_script(c, a->m->sql, ei)))
        return err;
    err =
        db_conn_query(c, SQL_RECORD,
                      DB_PARAMS(DBI(a->m->version), DBT(a->m->name), DBT(sum), DBI(clock_now_us())),
                      NULL, NULL, ei);
    a->done = !err;
    return err;
}

static int apply_one(struct db_conn *c, const struct db_migration *m, int *applied,
                     void (*progress)(const struct db_migration *m), struct souk_errinfo *ei)
{
    struct apply a = {m, 0};
    int err = db_tx_once(c, apply_tx, &a, ei);

    if (err) {
        char why[sizeof(ei->detail)];

        snprintf(why, sizeof(why), "%s", ei ? ei->detail : "");
        return souk_fail(ei, err, "migration %04d_%s.sql failed: %s", m->version, m->name, why);
    }
    if (a.done) {
        log_info("db: applied migration %04d_%s.sql", m->version, m->name);
        (*applied)++;
        if (progress)
            progress(m);
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int lock(struct db_conn *c, int take, struct souk_errinfo *ei)
{
    const char *sql = take ? "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"
                           : "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")";

    if (db_conn_dialect(c) != DB_PGSQL || db_pg_tx_pooling())
        return 0; /* behind pgbouncer: apply_tx takes a transaction-scoped lock instead */
    return db_conn_query(c, sql, NULL, 0, NULL, NULL, ei);
}

#define SQL_TABLE_LOCKED                                                                           \
    "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY "); " SQL_TABLE "; COMMIT"

static int migrate_on(struct db_conn *c, const struct db_migration *list, int n, int *applied,
                      void (*progress)(const struct db_migration *m), struct souk_errinfo *ei)
{
    int pooled = db_conn_dialect(c) == DB_PGSQL && db_pg_tx_pooling();
    int err = db_conn_script(c, pooled ? SQL_TABLE_LOCKED : SQL_TABLE, ei);

    if (!err)
        err = verify(c, list, n, ei);
    for (int i = 0; !err && i < n; i++)
        err = apply_one(c, &list[i], applied, progress, ei);
    return err;
}

int db_migrate_list(struct db *db, const struct db_migration *list, int n, int *applied,
                    void (*progress)(const struct db_migration *m), struct souk_errinfo *ei)
{
    struct souk_errinfo ignore = {0};
    struct db_conn *c;
    int count = 0, err;

    if (applied)
        *applied = 0;
    if (sodium_init() < 0)
        return souk_fail(ei, SOUK_INTERNAL, "libsodium failed to initialise");
    if ((err = check_list(list, n, ei)))
        return err;
    if (!(c = db_acquire(db, MIGRATE_ACQUIRE_MS)))
        return souk_fail(ei, SOUK_UNAVAILABLE, "no database connection available");
    if (!(err = lock(c, 1, ei))) {
        err = migrate_on(c, list, n, &count, progress, ei);
        lock(c, 0, &ignore);
    }
    souk_errinfo_cleanup(&ignore);
    db_release(c);
    if (applied)
        *applied = count;
    return err;
}

int db_migrate(struct db *db, int *applied, void (*progress)(const struct db_migration *m),
               struct souk_errinfo *ei)
{
    if (db_dialect(db) == DB_PGSQL)
        return db_migrate_list(db, db_migrations_pgsql, db_migrations_pgsql_count, applied,
                               progress, ei);
    return db_migrate_list(db, db_migrations_sqlite, db_migrations_sqlite_count, applied, progress,
                           ei);
}
