/* test_jobs.c - the job queue (src/jobs), mail rendering and send-once
 * (src/mail) and notify's transactional insert (src/notify), on SQLite and,
 * when SOUK_TEST_PG_URL is set, on PostgreSQL (each case in a fresh schema).
 *
 * Cases drive the queue synchronously with jobs_run_one() where timing
 * matters, and through real worker threads (jobs_start) for concurrency,
 * recurring sweeps and shutdown.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "notify/notify.h"

#define BACKOFF_BASE_MS 200

struct target {
    int pg;
};

struct fx {
    int pg;
    char url[1200], dir[64], schema[64];
    struct db *db;
};

static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static int runs;       /* handler calls in the current case */
static int fail_until; /* t.flaky fails while attempt <= fail_until */

/* ---- fixture -------------------------------------------------------------- */

static void pg_admin(const char *fmt, const char *schema)
{
    struct souk_errinfo ei = {0};
    struct db *db = NULL;
    char sql[256];

    snprintf(sql, sizeof sql, fmt, schema);
    assert_int_equal(db_open(unit_pg_url(), 1, &db, &ei), 0);
    struct db_conn *c = db_acquire(db, -1);
    assert_int_equal(db_exec_script(c, sql, &ei), 0);
    db_release(c);
    db_close(db);
}

static int setup(void **state)
{
    static int seq;
    const struct target *t = *state;
    struct fx *f = calloc(1, sizeof *f);
    struct souk_errinfo ei = {0};
    int applied = 0;

    f->pg = t->pg;
    if (f->pg) {
        snprintf(f->schema, sizeof f->schema, "t_jobs_%d_%d", (int)getpid(), ++seq);
        pg_admin("CREATE SCHEMA %s", f->schema);
        snprintf(f->url, sizeof f->url, "%s%coptions=-c%%20search_path%%3D%s", unit_pg_url(),
                 strchr(unit_pg_url(), '?') ? '&' : '?', f->schema);
    } else {
        snprintf(f->dir, sizeof f->dir, "/tmp/souk-test-jobs-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "sqlite:///%s/t.db", f->dir);
        setenv("SOUK_DATA_DIR", f->dir, 1);
    }
    assert_int_equal(db_open(f->url, 6, &f->db, &ei), 0);
    if (db_migrate(f->db, &applied, NULL, &ei))
        fail_msg("migrate: %s", ei.detail);
    runs = 0;
    fail_until = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[200];

    db_close(f->db);
    if (f->pg) {
        pg_admin("DROP SCHEMA %s CASCADE", f->schema);
    } else {
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        if (system(cmd) != 0)
            return -1;
    }
    free(f);
    return 0;
}

static int64_t count(struct db *db, const char *sql, const char *arg)
{
    struct souk_errinfo ei = {0};
    struct db_res *r = NULL;
    struct db_conn *c = db_acquire(db, -1);
    int err = arg ? db_query(c, sql, DB_PARAMS(DBT(arg)), &r, &ei)
                  : db_query(c, sql, DB_NOPARAMS, &r, &ei);
    int64_t n;

    db_release(c);
    if (err)
        fail_msg("%s: %s", sql, ei.detail);
    n = db_nrows(r) ? db_int(r, 0, 0) : -1;
    db_res_free(r);
    return n;
}

static char *get_text(struct db *db, const char *sql, const char *arg)
{
    struct souk_errinfo ei = {0};
    struct db_res *r = NULL;
    struct db_conn *c = db_acquire(db, -1);
    char *s = NULL;

    assert_int_equal(db_query(c, sql, DB_PARAMS(DBT(arg)), &r, &ei), 0);
    db_release(c);
    if (db_nrows(r) && db_get(r, 0, 0))
        s = strdup(db_get(r, 0, 0));
    db_res_free(r);
    return s;
}

/* ---- handlers ------------------------------------------------------------- */

static int h_count(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    (void)db, (void)job, (void)ei;
    pthread_mutex_lock(&runs_mu);
    runs++;
    pthread_mutex_unlock(&runs_mu);
    return 0;
}

static int h_flaky(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    h_count(db, job, ei);
    if (job->attempt <= fail_until)
        return souk_fail(ei, SOUK_UPSTREAM, "flaky %d", job->attempt);
    return 0;
}

static int h_permanent(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    h_count(db, job, ei);
    return souk_fail(ei, SOUK_PRECONDITION, "never");
}

struct enq {
    const char *kind, *key;
    int fail; /* make the transaction roll back */
    char id[37];
};

static int enq_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct enq *e = arg;
    int err = job_enqueue(c, e->kind, NULL, 0, e->key, e->id, ei);

    return err ? err : e->fail ? souk_fail(ei, SOUK_CONFLICT, "roll back") : 0;
}

static char *enqueue(struct db *db, const char *kind, const char *key)
{
    struct souk_errinfo ei = {0};
    struct enq e = {kind, key, 0, ""};

    assert_int_equal(db_tx_run(db, enq_tx, &e, &ei), 0);
    return strdup(e.id);
}

static int run_one(struct db *db)
{
    struct souk_errinfo ei = {0};
    int ran = 0;

    if (jobs_run_one(db, &ran, &ei))
        fail_msg("run_one: %s", ei.detail);
    return ran;
}

static const char *state_of(struct db *db, const char *id)
{
    static char buf[16];
    char *s = get_text(db, "SELECT state FROM jobs WHERE id = $1", id);

    snprintf(buf, sizeof buf, "%s", s ? s : "?");
    free(s);
    return buf;
}

/* ---- cases ------------------------------------------------------------------ */

static void rollback_runs_nothing(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct enq e = {"t.count", NULL, 1, ""};

    assert_int_equal(db_tx_run(f->db, enq_tx, &e, &ei), SOUK_CONFLICT);
    souk_errinfo_cleanup(&ei);
    assert_int_equal(count(f->db, "SELECT count(*) FROM jobs", NULL), 0);
    assert_int_equal(run_one(f->db), 0);
    assert_int_equal(runs, 0);
}

static void commit_runs_once(void **state)
{
    struct fx *f = *state;
    char *id = enqueue(f->db, "t.count", NULL);

    assert_int_equal(run_one(f->db), 1);
    assert_int_equal(run_one(f->db), 0);
    assert_int_equal(runs, 1);
    assert_string_equal(state_of(f->db, id), "done");
    free(id);
}

static void unique_key_one_live_job(void **state)
{
    struct fx *f = *state;
    char *a = enqueue(f->db, "t.count", "k1"), *b = enqueue(f->db, "t.count", "k1");
    char *c;

    assert_string_equal(a, b);
    assert_int_equal(count(f->db, "SELECT count(*) FROM jobs", NULL), 1);
    assert_int_equal(run_one(f->db), 1);
    c = enqueue(f->db, "t.count", "k1"); /* the first is done: the key is free again */
    assert_string_not_equal(a, c);
    assert_int_equal(count(f->db, "SELECT count(*) FROM jobs", NULL), 2);
    free(a), free(b), free(c);
}

static void backoff_then_dead(void **state)
{
    struct fx *f = *state;
    char *id = enqueue(f->db, "t.flaky", NULL), *err;

    fail_until = 99; /* max_attempts is 3 */
    for (int attempt = 1; attempt <= 3; attempt++) {
        int64_t before = clock_now_us();
        if (attempt > 1) /* make it due now instead of waiting */
            assert_int_equal(count(f->db,
                                   "UPDATE jobs SET run_at = 0 WHERE id = $1 "
                                   "RETURNING attempt",
                                   id),
                             attempt - 1);
        assert_int_equal(run_one(f->db), 1);
        if (attempt < 3) {
            int64_t delay = count(f->db, "SELECT run_at FROM jobs WHERE id = $1", id) - before;
            int64_t base = (int64_t)BACKOFF_BASE_MS * 1000 << (attempt - 1);
            assert_string_equal(state_of(f->db, id), "pending");
            assert_true(delay >= base * 3 / 4 - 1000);
            assert_true(delay <= base * 5 / 4 + 200000);
            assert_int_equal(run_one(f->db), 0); /* not due yet */
        }
    }
    assert_string_equal(state_of(f->db, id), "dead");
    err = get_text(f->db, "SELECT last_error FROM jobs WHERE id = $1", id);
    assert_non_null(strstr(err, "flaky 3"));
    assert_int_equal(runs, 3);
    free(err);
    free(id);
}

static void retry_after_wait_succeeds(void **state)
{
    struct fx *f = *state;
    char *id = enqueue(f->db, "t.flaky", NULL);
    struct souk_errinfo ei = {0};

    fail_until = 1;
    assert_int_equal(run_one(f->db), 1);
    assert_string_equal(state_of(f->db, id), "pending");
    usleep(BACKOFF_BASE_MS * 1250 + 50000);
    assert_int_equal(run_one(f->db), 1);
    assert_string_equal(state_of(f->db, id), "done");
    assert_int_equal(jobs_retry(f->db, NULL, id, &ei), SOUK_PRECONDITION); /* done: no retry */
    souk_errinfo_cleanup(&ei);
    free(id);
}

static void permanent_goes_dead_and_retry(void **state)
{
    struct fx *f = *state;
    char *id = enqueue(f->db, "t.permanent", NULL);
    struct souk_errinfo ei = {0};

    assert_int_equal(run_one(f->db), 1);
    assert_string_equal(state_of(f->db, id), "dead");
    assert_int_equal(runs, 1);
    assert_int_equal(jobs_retry(f->db, NULL, id, &ei), 0);
    assert_string_equal(state_of(f->db, id), "pending");
    assert_int_equal(run_one(f->db), 1);
    assert_int_equal(runs, 2);
    assert_int_equal(jobs_retry(f->db, NULL, "00000000-0000-7000-8000-000000000000", &ei),
                     SOUK_NOT_FOUND);
    souk_errinfo_cleanup(&ei);
    free(id);
}

static void expired_lease_is_claimed_again(void **state)
{
    struct fx *f = *state;
    char *id = enqueue(f->db, "t.count", NULL);

    /* a worker of another node claimed it and died */
    assert_int_equal(count(f->db,
                           "UPDATE jobs SET state = 'running', locked_by = 'dead-node', "
                           "attempt = 1, lease_until = 1 WHERE id = $1 RETURNING 1",
                           id),
                     1);
    assert_int_equal(run_one(f->db), 1);
    assert_string_equal(state_of(f->db, id), "done");
    assert_int_equal(count(f->db, "SELECT attempt FROM jobs WHERE id = $1", id), 2);
    /* a live lease is left alone */
    free(id);
    id = enqueue(f->db, "t.count", NULL);
    assert_int_equal(count(f->db,
                           "UPDATE jobs SET state = 'running', locked_by = 'other', "
                           "attempt = 1, lease_until = 9000000000000000 WHERE id = $1 "
                           "RETURNING 1",
                           id),
                     1);
    assert_int_equal(run_one(f->db), 0);
    free(id);
}

static void workers_run_each_once(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    int n = 60;

    assert_int_equal(jobs_start(f->db, 3, &ei), 0);
    for (int i = 0; i < n; i++)
        free(enqueue(f->db, "t.count", NULL));
    for (int i = 0; i < 200 && count(f->db,
                                     "SELECT count(*) FROM jobs WHERE state = 'done' "
                                     "AND kind = 't.count'",
                                     NULL) < n;
         i++)
        usleep(50000);
    jobs_stop(5);
    assert_int_equal(runs, n);
    assert_int_equal(count(f->db,
                           "SELECT count(*) FROM jobs WHERE kind = 't.count' AND "
                           "state = 'done'",
                           NULL),
                     n);
}

static int sweeps;
static int h_sweep(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    (void)db, (void)job, (void)ei;
    __atomic_add_fetch(&sweeps, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void recurring_runs_once_per_interval(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};

    sweeps = 0;
    job_recurring("t.sweep", 2, h_sweep);
    assert_int_equal(jobs_start(f->db, 2, &ei), 0);
    usleep(3300000); /* due at start, then again ~2 s later */
    jobs_stop(5);
    assert_true(sweeps >= 1 && sweeps <= 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM job_schedules WHERE name = $1", "t.sweep"),
                     1);
}

static int h_slow(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    usleep(600000);
    return h_count(db, job, ei);
}

static void stop_lets_running_jobs_finish(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    char *id;

    assert_int_equal(jobs_start(f->db, 1, &ei), 0);
    id = enqueue(f->db, "t.slow", NULL);
    for (int i = 0; i < 100 && strcmp(state_of(f->db, id), "running"); i++)
        usleep(20000);
    jobs_stop(10);
    assert_string_equal(state_of(f->db, id), "done");
    assert_int_equal(runs, 1);
    free(id);
}

/* ---- mail -------------------------------------------------------------------- */

static void mail_render_escapes_html(void **state)
{
    json_t *vars = json_pack("{s:s, s:i}", "name", "<b>Tom & \"Jerry\"</b>", "n", 3);
    char *html = mail_render("<p>{{ name }} x{{n}}{{missing}}</p>", vars, 1);
    char *text = mail_render("{{name}} x{{n}} {{", vars, 0);

    (void)state;
    assert_string_equal(html, "<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; x3</p>");
    assert_string_equal(text, "<b>Tom & \"Jerry\"</b> x3 {{");
    free(html);
    free(text);
    json_decref(vars);
}

struct mail_in {
    const char *key;
};

static int mail_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct mail_in *m = arg;
    json_t *vars = json_pack("{s:s, s:s}", "subject", "Hi", "body", "<hello>");
    int err = mail_enqueue(c, "a@example.com", "test", vars, m->key, ei);

    json_decref(vars);
    return err;
}

static void mail_eml_sent_once(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    struct mail_in m = {"welcome:1"};
    char path[200];
    struct stat st;

    if (f->pg)
        skip(); /* the transport does not depend on the dialect */
    unsetenv("SOUK_SMTP_URL");
    assert_int_equal(db_tx_run(f->db, mail_tx, &m, &ei), 0);
    assert_int_equal(db_tx_run(f->db, mail_tx, &m, &ei), 0); /* same key: one job */
    assert_int_equal(count(f->db, "SELECT count(*) FROM jobs WHERE kind = 'mail.send'", NULL), 1);
    assert_int_equal(run_one(f->db), 1);
    snprintf(path, sizeof path, "%s/mail/welcome_1.eml", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(count(f->db,
                           "SELECT count(*) FROM mail_sent WHERE key = $1 AND "
                           "state = 'sent'",
                           "welcome:1"),
                     1);
    /* a new job for the same key after it was sent: nothing is sent again */
    unlink(path);
    assert_int_equal(db_tx_run(f->db, mail_tx, &m, &ei), 0);
    assert_int_equal(run_one(f->db), 1);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(mail_enqueue(NULL, "bad\r\naddr", "test", NULL, NULL, &ei), SOUK_INVALID);
    souk_errinfo_cleanup(&ei);
}

/* ---- notify ------------------------------------------------------------------ */

static int notify_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    int err = notify(c, "0190a0b0-0000-7000-8000-000000000001", "test.event", NULL, ei);

    return err ? err : *(int *)arg ? souk_fail(ei, SOUK_CONFLICT, "roll back") : 0;
}

static void notify_is_transactional(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    int fail = 1;

    assert_int_equal(db_tx_run(f->db, notify_tx, &fail, &ei), SOUK_CONFLICT);
    assert_int_equal(count(f->db, "SELECT count(*) FROM notifications", NULL), 0);
    fail = 0;
    souk_errinfo_cleanup(&ei);
    assert_int_equal(db_tx_run(f->db, notify_tx, &fail, &ei), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM notifications", NULL), 1);
}

/* ---- main -------------------------------------------------------------------- */

#define CASE(fn, t) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)(t))

static int run_on(const struct target *t, const char *name)
{
    const struct CMUnitTest cases[] = {
        CASE(rollback_runs_nothing, t),
        CASE(commit_runs_once, t),
        CASE(unique_key_one_live_job, t),
        CASE(backoff_then_dead, t),
        CASE(retry_after_wait_succeeds, t),
        CASE(permanent_goes_dead_and_retry, t),
        CASE(expired_lease_is_claimed_again, t),
        CASE(workers_run_each_once, t),
        CASE(recurring_runs_once_per_interval, t),
        CASE(stop_lets_running_jobs_finish, t),
        cmocka_unit_test(mail_render_escapes_html),
        CASE(mail_eml_sent_once, t),
        CASE(notify_is_transactional, t),
    };
    return _cmocka_run_group_tests(name, cases, sizeof cases / sizeof cases[0], NULL, NULL);
}

int main(void)
{
    static const struct target sqlite = {0}, pg = {1};
    char base[16];
    int failed;

    snprintf(base, sizeof base, "%d", BACKOFF_BASE_MS);
    setenv("SOUK_JOB_BACKOFF_BASE_MS", base, 1);
    setenv("SOUK_JOB_LEASE_SECONDS", "2", 1);
    unsetenv("SOUK_TEST_JOBS");
    log_set_level(LOG_ERROR);
    job_register("t.count", h_count, 5);
    job_register("t.flaky", h_flaky, 3);
    job_register("t.permanent", h_permanent, 5);
    job_register("t.slow", h_slow, 5);
    mail_init();
    failed = run_on(&sqlite, "jobs (sqlite)");
    if (unit_pg_url())
        failed += run_on(&pg, "jobs (pgsql)");
    return failed ? 1 : 0;
}
