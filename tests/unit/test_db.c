/* test_db.c - the data layer (src/db) on SQLite and, when SOUK_TEST_PG_URL
 * is set, on PostgreSQL: the same cases run against both.
 *
 * Each case gets a fixture: on SQLite a shared :memory: URL plus a temp-file
 * URL (for cases that need several connections); on PostgreSQL a fresh
 * schema (search_path set through the URL's options) dropped afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "core/log.h"
#include "db/db.h"

struct target {
    int pg;
};

struct fx {
    int pg;
    char url[1200];      /* the default database for the case */
    char file_url[1200]; /* one that several connections share */
    char dir[64];        /* sqlite temp dir */
    char schema[64];     /* pg schema */
};

/* ---- fixture ------------------------------------------------------------ */

static void pg_admin(const char *sql_fmt, const char *schema)
{
    struct souk_errinfo ei = {0};
    struct db *db = NULL;
    struct db_conn *c;
    char sql[256];

    snprintf(sql, sizeof(sql), sql_fmt, schema);
    assert_int_equal(db_open(unit_pg_url(), 1, &db, &ei), 0);
    c = db_acquire(db, -1);
    assert_int_equal(db_exec_script(c, sql, &ei), 0);
    db_release(c);
    db_close(db);
}

static int setup(void **state)
{
    static int seq;
    const struct target *t = *state;
    struct fx *f = calloc(1, sizeof(*f));

    f->pg = t->pg;
    if (f->pg) {
        const char *base = unit_pg_url();

        snprintf(f->schema, sizeof(f->schema), "t_db_%d_%d", (int)getpid(), ++seq);
        pg_admin("CREATE SCHEMA %s", f->schema);
        snprintf(f->url, sizeof(f->url), "%s%coptions=-c%%20search_path%%3D%s", base,
                 strchr(base, '?') ? '&' : '?', f->schema);
        snprintf(f->file_url, sizeof(f->file_url), "%s", f->url);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/souk_test_db_XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof(f->url), "sqlite://:memory:");
        snprintf(f->file_url, sizeof(f->file_url), "sqlite:///%s/t.db", f->dir);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char path[128];

    if (f->pg) {
        pg_admin("DROP SCHEMA %s CASCADE", f->schema);
    } else {
        static const char *const ext[] = {"", "-wal", "-shm"};

        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/t.db%s", f->dir, ext[i]);
            unlink(path);
        }
        rmdir(f->dir);
    }
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct db *open_db(const char *url, int size)
{
    struct souk_errinfo ei = {0};
    struct db *db = NULL;

    if (db_open(url, size, &db, &ei))
        fail_msg("db_open %s: %s", url, ei.detail);
    return db;
}

static void exec_ok(struct db *db, const char *sql)
{
    struct souk_errinfo ei = {0};
    struct db_conn *c = db_acquire(db, -1);
    int err = db_exec(c, sql, DB_NOPARAMS, NULL, &ei);

    db_release(c);
    if (err)
        fail_msg("%s: %s", sql, ei.detail);
}

static int64_t count_rows(struct db *db, const char *table)
{
    struct souk_errinfo ei = {0};
    struct db_conn *c = db_acquire(db, -1);
    struct db_res *r = NULL;
    char sql[128];
    int64_t n;

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    assert_int_equal(db_query(c, sql, DB_NOPARAMS, &r, &ei), 0);
    n = db_int(r, 0, 0);
    db_res_free(r);
    db_release(c);
    return n;
}

static const char *bool_type(const struct fx *f)
{
    return f->pg ? "BOOLEAN" : "INTEGER";
}

/* ---- open and migrate --------------------------------------------------- */

static int progress_calls;
static void on_progress(const struct db_migration *m)
{
    (void)m;
    progress_calls++;
}

static void test_migrate_twice(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 2);
    int applied = -1, want;

    want = f->pg ? db_migrations_pgsql_count : db_migrations_sqlite_count;
    assert_true(want >= 1);
    assert_int_equal(db_dialect(db), f->pg ? DB_PGSQL : DB_SQLITE);
    progress_calls = 0;
    assert_int_equal(db_migrate(db, &applied, on_progress, &ei), 0);
    assert_int_equal(applied, want);
    assert_int_equal(progress_calls, want);
    assert_int_equal(db_migrate(db, &applied, on_progress, &ei), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(count_rows(db, "schema_migrations"), want);
    exec_ok(db, "INSERT INTO souk_meta (key, value) VALUES ('k', 'v')");
    assert_int_equal(count_rows(db, "souk_meta"), 1);
    db_close(db);
}

static void test_migrate_refusals(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    const struct db_migration v1[] = {{1, "a", "CREATE TABLE a (x INTEGER);\n"}};
    const struct db_migration v2[] = {{1, "a", "CREATE TABLE a (x INTEGER);\n"},
                                      {2, "b", "CREATE TABLE b (y INTEGER);\n"}};
    const struct db_migration changed[] = {{1, "a", "CREATE TABLE a (x BIGINT);\n"}};
    const struct db_migration bad[] = {{1, "a", "CREATE TABLE a (x INTEGER);\n"},
                                       {2, "b", "CREATE TABLE b (y INTEGER); NOT SQL;\n"}};
    int applied = -1;

    assert_int_equal(db_migrate_list(db, v1, 1, &applied, NULL, &ei), 0);
    assert_int_equal(applied, 1);
    /* the text of an applied file changed */
    assert_int_equal(db_migrate_list(db, changed, 1, &applied, NULL, &ei), SOUK_PRECONDITION);
    assert_non_null(strstr(ei.detail, "0001_a.sql"));
    assert_int_equal(applied, 0);
    /* a broken file rolls back (table b absent) and names itself */
    assert_int_equal(db_migrate_list(db, bad, 2, &applied, NULL, &ei), SOUK_INTERNAL);
    assert_non_null(strstr(ei.detail, "0002_b.sql"));
    assert_int_equal(count_rows(db, "schema_migrations"), 1);
    assert_int_equal(db_migrate_list(db, v2, 2, &applied, NULL, &ei), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(count_rows(db, "b"), 0);
    /* the database is newer than the binary */
    assert_int_equal(db_migrate_list(db, v1, 1, &applied, NULL, &ei), SOUK_PRECONDITION);
    assert_non_null(strstr(ei.detail, "newer"));
    db_close(db);
}

/* Two nodes start at once: between them each file is applied exactly once. */
struct node {
    const char *url;
    int applied, err;
};

static void *migrate_node(void *arg)
{
    struct node *n = arg;
    struct souk_errinfo ei = {0};
    struct db *db = NULL;

    if (!(n->err = db_open(n->url, 1, &db, &ei)))
        n->err = db_migrate(db, &n->applied, NULL, &ei);
    db_close(db);
    return NULL;
}

static void test_migrate_concurrently(void **state)
{
    struct fx *f = *state;
    struct node nodes[2] = {{f->file_url, 0, 0}, {f->file_url, 0, 0}};
    pthread_t t[2];
    struct db *db;

    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, migrate_node, &nodes[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(nodes[0].err, 0);
    assert_int_equal(nodes[1].err, 0);
    assert_int_equal(nodes[0].applied + nodes[1].applied,
                     f->pg ? db_migrations_pgsql_count : db_migrations_sqlite_count);
    db = open_db(f->file_url, 1);
    assert_int_equal(count_rows(db, "souk_meta"), 0);
    db_close(db);
}

static void test_bad_urls(void **state)
{
    struct souk_errinfo ei = {0};
    struct db *db = (struct db *)1;

    (void)state;
    assert_int_equal(db_open("mysql://x", 1, &db, &ei), SOUK_INVALID);
    assert_null(db);
    assert_int_equal(db_open("sqlite://", 1, &db, &ei), SOUK_INVALID);
    assert_int_equal(db_open(NULL, 1, &db, &ei), SOUK_INVALID);
    /* a database that cannot be reached */
    assert_int_equal(db_open("sqlite:////etc/passwd/x.db", 1, &db, &ei), SOUK_UNAVAILABLE);
    assert_null(db);
    assert_int_equal(db_open("postgres://souk@127.0.0.1:1/x?connect_timeout=2", 2, &db, &ei),
                     SOUK_UNAVAILABLE);
    assert_non_null(strstr(ei.detail, "PostgreSQL"));
}

static void test_sqlite_relative_path(void **state)
{
    struct fx *f = *state;
    struct db *db;
    char cwd[512];
    struct stat st;

    if (f->pg)
        skip();
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    db = open_db("sqlite:///sub/dir/r.db", 3);
    assert_int_equal(db_pool_size(db), 3);
    exec_ok(db, "CREATE TABLE t (x INTEGER)");
    db_close(db);
    assert_int_equal(stat("sub/dir/r.db", &st), 0);
    unlink("sub/dir/r.db");
    unlink("sub/dir/r.db-wal");
    unlink("sub/dir/r.db-shm");
    rmdir("sub/dir");
    rmdir("sub");
    assert_int_equal(chdir(cwd), 0);
    /* :memory: is one database: the pool is forced to one connection */
    db = open_db("sqlite://:memory:", 4);
    assert_int_equal(db_pool_size(db), 1);
    db_close(db);
}

/* ---- parameters and results --------------------------------------------- */

static void make_params_table(struct fx *f, struct db *db)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "CREATE TABLE p (id INTEGER PRIMARY KEY, t TEXT, i BIGINT, b %s, n TEXT)",
             bool_type(f));
    exec_ok(db, sql);
}

static void test_params(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    struct db_conn *c;
    struct db_res *r = NULL;
    int64_t changed = -1;
    const char *ins = "INSERT INTO p (id, t, i, b, n) VALUES ($1, $2, $3, $4, $5)";

    make_params_table(f, db);
    c = db_acquire(db, -1);
    assert_int_equal(db_conn_dialect(c), f->pg ? DB_PGSQL : DB_SQLITE);
    assert_int_equal(db_exec(c, ins,
                             DB_PARAMS(DBI(1), DBT("it's \"x\""), DBI(INT64_MAX), DBB(1), DBNULL),
                             &changed, &ei),
                     0);
    assert_int_equal(changed, 1);
    assert_int_equal(
        db_exec(c, ins, DB_PARAMS(DBI(2), DBT(NULL), DBI(INT64_MIN), DBB(0), DBT("x")), NULL, &ei),
        0);
    /* repeated and out-of-order placeholders */
    assert_int_equal(db_query(c,
                              "SELECT id, t, i, b, n FROM p WHERE i = $2 AND "
                              "(t = $1 OR n = $1 OR t IS NULL) ORDER BY id",
                              DB_PARAMS(DBT("x"), DBI(INT64_MIN)), &r, &ei),
                     0);
    assert_int_equal(db_nrows(r), 1);
    assert_int_equal(db_ncols(r), 5);
    assert_string_equal(db_colname(r, 1), "t");
    assert_null(db_colname(r, 5));
    assert_int_equal(db_int(r, 0, 0), 2);
    assert_true(db_isnull(r, 0, 1));
    assert_true(db_int(r, 0, 2) == INT64_MIN);
    assert_int_equal(db_bool(r, 0, 3), 0);
    assert_string_equal(db_get(r, 0, 4), "x");
    db_res_free(r);
    assert_int_equal(
        db_query(c, "SELECT id, t, i, b, n FROM p WHERE id = $1", DB_PARAMS(DBI(1)), &r, &ei), 0);
    assert_string_equal(db_get(r, 0, 1), "it's \"x\"");
    assert_true(db_int(r, 0, 2) == INT64_MAX);
    assert_int_equal(db_bool(r, 0, 3), 1);
    assert_null(db_get(r, 0, 4));
    assert_null(db_get(r, 1, 0)); /* out of range */
    assert_int_equal(db_int(r, 0, 4), 0);
    db_res_free(r);
    /* the cached statement runs again with new values; UPDATE counts rows */
    assert_int_equal(db_exec(c, "UPDATE p SET n = $1 WHERE id >= $2", DB_PARAMS(DBT("y"), DBI(1)),
                             &changed, &ei),
                     0);
    assert_int_equal(changed, 2);
    assert_int_equal(db_query(c, "SELECT id FROM p WHERE id = $1", DB_PARAMS(DBI(9)), &r, &ei), 0);
    assert_int_equal(db_nrows(r), 0);
    db_res_free(r);
    /* a placeholder without a parameter is a programming error on both */
    assert_int_equal(db_query(c, "SELECT id FROM p WHERE id = $2", DB_PARAMS(DBI(1)), &r, &ei),
                     SOUK_INTERNAL);
    assert_null(r);
    db_release(c);
    db_close(db);
}

static void test_constraint_errors(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    struct db_conn *c;
    const char *ins = "INSERT INTO u (email, parent) VALUES ($1, $2)";

    exec_ok(db, "CREATE TABLE par (id INTEGER PRIMARY KEY)");
    exec_ok(db,
            "CREATE TABLE u (email TEXT NOT NULL PRIMARY KEY, parent INTEGER REFERENCES par (id), "
            "n BIGINT, CHECK (email <> ''))");
    exec_ok(db, "CREATE UNIQUE INDEX u_n ON u (n)");
    c = db_acquire(db, -1);
    assert_int_equal(db_exec(c, ins, DB_PARAMS(DBT("a@x"), DBNULL), NULL, &ei), 0);
    assert_int_equal(db_exec(c, ins, DB_PARAMS(DBT("a@x"), DBNULL), NULL, &ei), SOUK_CONFLICT);
    assert_int_equal(
        db_exec(c, "INSERT INTO u (email, n) VALUES ('b', 1), ('c', 1)", DB_NOPARAMS, NULL, &ei),
        SOUK_CONFLICT);
    assert_int_equal(db_exec(c, ins, DB_PARAMS(DBT(NULL), DBNULL), NULL, &ei), SOUK_INVALID);
    assert_int_equal(db_exec(c, ins, DB_PARAMS(DBT(""), DBNULL), NULL, &ei), SOUK_INVALID);
    assert_int_equal(db_exec(c, ins, DB_PARAMS(DBT("b@x"), DBI(42)), NULL, &ei), SOUK_INVALID);
    if (f->pg) /* bad input text */
        assert_int_equal(db_exec(c, "UPDATE u SET n = $1", DB_PARAMS(DBT("abc")), NULL, &ei),
                         SOUK_INVALID);
    assert_int_equal(db_exec(c, "SELEC nonsense", DB_NOPARAMS, NULL, &ei), SOUK_INTERNAL);
    assert_true(ei.detail[0] != '\0');
    db_release(c);
    db_close(db);
}

/* ---- transactions ------------------------------------------------------- */

struct txarg {
    int calls, fail_first, result;
    int *hook_runs, *hook_frees;
};

static void hook_run(void *arg)
{
    struct txarg *a = arg;

    (*a->hook_runs)++;
}

static void hook_free(void *arg)
{
    struct txarg *a = arg;

    (*a->hook_frees)++;
}

static int insert_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct txarg *a = arg;
    int err;

    a->calls++;
    assert_true(db_in_tx(c));
    if ((err = db_exec(c, "INSERT INTO k (v) VALUES ($1)", DB_PARAMS(DBI(a->calls)), NULL, ei)))
        return err;
    db_after_commit(c, hook_run, a, hook_free);
    if (a->fail_first && a->calls == 1)
        return SOUK_RETRY;
    return a->result;
}

static void test_tx_rollback_and_hooks(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    int runs = 0, frees = 0;
    struct txarg a = {.result = SOUK_NOT_FOUND, .hook_runs = &runs, .hook_frees = &frees};

    exec_ok(db, "CREATE TABLE k (v BIGINT)");
    assert_int_equal(db_tx_run(db, insert_tx, &a, &ei), SOUK_NOT_FOUND);
    assert_int_equal(count_rows(db, "k"), 0);
    assert_int_equal(runs, 0);
    assert_int_equal(frees, 1);
    a = (struct txarg){.result = 0, .hook_runs = &runs, .hook_frees = &frees};
    assert_int_equal(db_tx_run(db, insert_tx, &a, &ei), 0);
    assert_int_equal(count_rows(db, "k"), 1);
    assert_int_equal(runs, 1);
    assert_int_equal(frees, 2);
    assert_int_equal(db_pool_in_use(db), 0);
    db_close(db);
}

static void test_tx_retry_reruns(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    int runs = 0, frees = 0;
    struct txarg a = {.fail_first = 1, .hook_runs = &runs, .hook_frees = &frees};
    struct db_conn *c;
    struct db_res *r = NULL;

    exec_ok(db, "CREATE TABLE k (v BIGINT)");
    assert_int_equal(db_tx_run(db, insert_tx, &a, &ei), 0);
    assert_int_equal(a.calls, 2);
    assert_int_equal(runs, 1);  /* only the committed attempt's hook */
    assert_int_equal(frees, 2); /* both args freed */
    c = db_acquire(db, -1);
    assert_int_equal(db_query(c, "SELECT v FROM k", DB_NOPARAMS, &r, &ei), 0);
    assert_int_equal(db_nrows(r), 1);
    assert_int_equal(db_int(r, 0, 0), 2); /* the first attempt rolled back */
    db_res_free(r);
    db_release(c);
    db_close(db);
}

/* A real busy/serialization failure: B reads a snapshot, A commits a write,
 * B's write then fails with SQLITE_BUSY_SNAPSHOT / SQLSTATE 40001. */
static void test_busy_is_retry(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->file_url, 2);
    struct db_conn *a, *b;
    struct db_res *r = NULL;
    const char *inc = "UPDATE ctr SET n = n + 1 WHERE id = 1";

    exec_ok(db, "CREATE TABLE ctr (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)");
    exec_ok(db, "INSERT INTO ctr (id, n) VALUES (1, 0)");
    a = db_acquire(db, -1);
    b = db_acquire(db, -1);
    assert_int_equal(db_exec(b, f->pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN",
                             DB_NOPARAMS, NULL, &ei),
                     0);
    assert_int_equal(db_query(b, "SELECT n FROM ctr", DB_NOPARAMS, &r, &ei), 0);
    db_res_free(r);
    assert_int_equal(db_exec(a, inc, DB_NOPARAMS, NULL, &ei), 0);
    assert_int_equal(db_exec(b, inc, DB_NOPARAMS, NULL, &ei), SOUK_RETRY);
    db_release(b); /* released inside a transaction: rolled back */
    assert_int_equal(db_exec(a, inc, DB_NOPARAMS, NULL, &ei), 0);
    db_release(a);
    b = db_acquire(db, -1);
    assert_int_equal(db_query(b, "SELECT n FROM ctr", DB_NOPARAMS, &r, &ei), 0);
    assert_int_equal(db_int(r, 0, 0), 2);
    db_res_free(r);
    db_release(b);
    db_close(db);
}

/* A thread holds the write lock for a while; db_tx_run still gets through. */
struct holder {
    struct db_conn *c;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int locked;
};

static void *hold_lock(void *arg)
{
    struct holder *h = arg;
    struct souk_errinfo ei = {0};
    struct timespec ts = {0, 150 * 1000000L};

    db_exec(h->c, "BEGIN IMMEDIATE", DB_NOPARAMS, NULL, &ei);
    db_exec(h->c, "UPDATE ctr SET n = n + 10", DB_NOPARAMS, NULL, &ei);
    pthread_mutex_lock(&h->mu);
    h->locked = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    nanosleep(&ts, NULL);
    db_exec(h->c, "COMMIT", DB_NOPARAMS, NULL, &ei);
    return NULL;
}

static int inc_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    (void)arg;
    return db_exec(c, "UPDATE ctr SET n = n + 1 WHERE id = 1", DB_NOPARAMS, NULL, ei);
}

static void test_sqlite_lock_held_by_thread(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db;
    struct holder h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t t;

    if (f->pg)
        skip();
    db = open_db(f->file_url, 2);
    exec_ok(db, "CREATE TABLE ctr (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)");
    exec_ok(db, "INSERT INTO ctr (id, n) VALUES (1, 0)");
    h.c = db_acquire(db, -1);
    pthread_create(&t, NULL, hold_lock, &h);
    pthread_mutex_lock(&h.mu);
    while (!h.locked)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(db_tx_run(db, inc_tx, NULL, &ei), 0);
    pthread_join(t, NULL);
    db_release(h.c);
    h.c = db_acquire(db, -1);
    {
        struct db_res *r = NULL;

        assert_int_equal(db_query(h.c, "SELECT n FROM ctr", DB_NOPARAMS, &r, &ei), 0);
        assert_int_equal(db_int(r, 0, 0), 11);
        db_res_free(r);
    }
    db_release(h.c);
    db_close(db);
}

/* ---- fault injection, pool ---------------------------------------------- */

static int two_inserts_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    int err;

    (void)arg;
    if ((err = db_exec(c, "INSERT INTO k (v) VALUES (1)", DB_NOPARAMS, NULL, ei)))
        return err;
    return db_exec(c, "INSERT INTO k (v) VALUES (2)", DB_NOPARAMS, NULL, ei);
}

static void test_fault_injection(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db = open_db(f->url, 1);
    struct db_conn *c;
    int errs[4];

    exec_ok(db, "CREATE TABLE k (v BIGINT)");
    c = db_acquire(db, -1);
    db_fault_fail_nth(3);
    for (int i = 0; i < 4; i++)
        errs[i] = db_exec(c, "SELECT 1", DB_NOPARAMS, NULL, &ei);
    assert_int_equal(errs[0], 0);
    assert_int_equal(errs[1], 0);
    assert_int_equal(errs[2], SOUK_INTERNAL);
    assert_int_equal(errs[3], 0);
    db_release(c);
    /* a failure inside a transaction rolls all of it back */
    db_fault_fail_nth(2);
    assert_int_equal(db_tx_run(db, two_inserts_tx, NULL, &ei), SOUK_INTERNAL);
    assert_int_equal(count_rows(db, "k"), 0);
    db_close(db);
    /* from the environment, read by db_open */
    setenv("SOUK_DB_FAIL_NTH", "1", 1);
    db = open_db(f->url, 1);
    unsetenv("SOUK_DB_FAIL_NTH");
    c = db_acquire(db, -1);
    assert_int_equal(db_exec(c, "SELECT 1", DB_NOPARAMS, NULL, &ei), SOUK_INTERNAL);
    assert_int_equal(db_exec(c, "SELECT 1", DB_NOPARAMS, NULL, &ei), 0);
    db_release(c);
    db_close(db);
}

static void test_pool_timeout(void **state)
{
    struct fx *f = *state;
    struct db *db = open_db(f->url, 1);
    struct db_conn *c = db_acquire(db, 0), *c2;
    struct timespec t0, t1;
    long ms;

    assert_non_null(c);
    assert_int_equal(db_pool_in_use(db), 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_null(db_acquire(db, 60));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 50 && ms < 2000);
    db_release(c);
    c2 = db_acquire(db, 0);
    assert_ptr_equal(c2, c);
    db_release(c2);
    assert_int_equal(db_pool_in_use(db), 0);
    db_close(db);
}

/* ---- concurrency -------------------------------------------------------- */

#define THREADS    8
#define INCREMENTS 40

struct worker {
    struct db *db;
    int failures;
};

static void *increment_many(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < INCREMENTS; i++) {
        struct souk_errinfo ei = {0};

        if (db_tx_run(w->db, inc_tx, NULL, &ei))
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    struct fx *f = *state;
    struct db *db = open_db(f->file_url, 4);
    struct worker w[THREADS];
    pthread_t t[THREADS];
    struct db_conn *c;
    struct db_res *r = NULL;
    struct souk_errinfo ei = {0};

    exec_ok(db, "CREATE TABLE ctr (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)");
    exec_ok(db, "INSERT INTO ctr (id, n) VALUES (1, 0)");
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){db, 0};
        pthread_create(&t[i], NULL, increment_many, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    c = db_acquire(db, -1);
    assert_int_equal(db_query(c, "SELECT n FROM ctr WHERE id = 1", DB_NOPARAMS, &r, &ei), 0);
    assert_int_equal(db_int(r, 0, 0), THREADS * INCREMENTS);
    db_res_free(r);
    db_release(c);
    db_close(db);
}

/* ---- PostgreSQL: a lost session is reported, then re-established -------- */

static void test_pg_reconnect(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct db *db;
    struct db_conn *c;
    struct db_res *r = NULL;

    if (!f->pg)
        skip();
    db = open_db(f->url, 1);
    c = db_acquire(db, -1);
    assert_int_equal(db_query(c, "SHOW TimeZone", DB_NOPARAMS, &r, &ei), 0);
    assert_string_equal(db_get(r, 0, 0), "UTC");
    db_res_free(r);
    assert_int_equal(
        db_exec(c, "SELECT pg_terminate_backend(pg_backend_pid())", DB_NOPARAMS, NULL, &ei),
        SOUK_UNAVAILABLE);
    assert_int_equal(db_exec(c, "SELECT 1", DB_NOPARAMS, NULL, &ei), SOUK_UNAVAILABLE);
    db_release(c);
    c = db_acquire(db, -1);
    assert_int_equal(
        db_query(c, "SELECT current_setting('application_name')", DB_NOPARAMS, &r, &ei), 0);
    assert_string_equal(db_get(r, 0, 0), "souk");
    db_res_free(r);
    db_release(c);
    db_close(db);
}

/* ---- main --------------------------------------------------------------- */

#define CASE(fn, t) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, t)
#define ALL_CASES(t)                                                                               \
    {                                                                                              \
        CASE(test_migrate_twice, t), CASE(test_migrate_refusals, t),                               \
            CASE(test_migrate_concurrently, t), CASE(test_bad_urls, t),                            \
            CASE(test_sqlite_relative_path, t), CASE(test_params, t),                              \
            CASE(test_constraint_errors, t), CASE(test_tx_rollback_and_hooks, t),                  \
            CASE(test_tx_retry_reruns, t), CASE(test_busy_is_retry, t),                            \
            CASE(test_sqlite_lock_held_by_thread, t), CASE(test_fault_injection, t),               \
            CASE(test_pool_timeout, t), CASE(test_concurrent_increments, t),                       \
            CASE(test_pg_reconnect, t),                                                            \
    }

int main(void)
{
    static struct target sqlite = {0}, pg = {1};
    const struct CMUnitTest sqlite_tests[] = ALL_CASES(&sqlite);
    const struct CMUnitTest pg_tests[] = ALL_CASES(&pg);
    int failed;

    log_set_level(LOG_ERROR);
    failed = cmocka_run_group_tests_name("db_sqlite", sqlite_tests, NULL, NULL);
    if (unit_pg_url())
        failed += cmocka_run_group_tests_name("db_pgsql", pg_tests, NULL, NULL);
    else
        fprintf(stderr, "db_pgsql: skipped (SOUK_TEST_PG_URL not set)\n");
    return failed ? 1 : 0;
}
