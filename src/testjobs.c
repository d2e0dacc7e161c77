/* testjobs.c - job kinds that exist only for tests (SOUK_TEST_JOBS=1).
 *
 *   test.record  records its run in test_job_runs(job_id, run_no, node,
 *                started_at, finished_at); payload {"ms": N} sleeps first.
 *   test.sleep   sleeps payload.ms (default 1000), then records its run the
 *                same way (so a run killed mid-sleep leaves no row).
 *   test.fail    fails while attempt <= payload.times, then records and
 *                succeeds; payload.permanent=true fails with PRECONDITION.
 *   test.notify  notify(payload.user_id, payload.type or "test.event",
 *                payload.data) in its own transaction.
 *   test.mail    mail_enqueue(payload.to, payload.template, payload.vars,
 *                payload.key) in its own transaction.
 *
 * The black-box tests enqueue them through the ADMIN-only
 * POST /api/admin/jobs/enqueue/ (jobs_http.c), which is registered only in
 * test mode. Nothing here runs in production: testjobs_init() returns 0
 * and registers nothing unless SOUK_TEST_JOBS=1.
 *
 * It sits above the modules (like app.c): the jobs module knows nothing of
 * mail or notify.
 *
 * Thread safety: handlers run on any worker thread; testjobs_init from
 * the main thread before jobs_start (app_init_modules calls it).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "testjobs.h"

#define TEST_SLEEP_MAX_MS 600000

static void sleep_ms(json_int_t ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    if (ms > TEST_SLEEP_MAX_MS)
        ms = TEST_SLEEP_MAX_MS;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
}

struct run {
    const struct job *job;
    int64_t started;
};

static int record_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct run *r = arg;

    return db_exec(c,
                   "INSERT INTO test_job_runs (job_id, run_no, node, started_at, finished_at) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   DB_PARAMS(DBT(r->job->id), DBI(r->job->attempt), DBT(jobs_node_id()),
                             DBI(r->started), DBI(clock_now_us())),
                   NULL, ei);
}

static int record(struct db *db, const struct job *job, int64_t started, struct souk_errinfo *ei)
{
    return db_tx_run(db, record_tx, &(struct run){job, started}, ei);
}

static int test_record(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    int64_t started = clock_now_us();

    sleep_ms(json_integer_value(json_object_get(job->payload, "ms")));
    return record(db, job, started, ei);
}

static int test_sleep(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    int64_t started = clock_now_us();
    const json_t *ms = json_object_get(job->payload, "ms");

    sleep_ms(json_is_integer(ms) ? json_integer_value(ms) : 1000);
    return record(db, job, started, ei);
}

static int test_fail(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    json_int_t times = json_integer_value(json_object_get(job->payload, "times"));

    if (json_is_true(json_object_get(job->payload, "permanent")))
        return souk_fail(ei, SOUK_PRECONDITION, "test.fail: permanent failure");
    if (job->attempt <= times)
        return souk_fail(ei, SOUK_UPSTREAM, "test.fail: planned failure %d of %lld", job->attempt,
                         (long long)times);
    return record(db, job, clock_now_us(), ei);
}

static int notify_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const json_t *p = arg;
    const char *user = json_string_value(json_object_get(p, "user_id"));
    const char *type = json_string_value(json_object_get(p, "type"));
    const json_t *data = json_object_get(p, "data");

    if (!user)
        return souk_fail(ei, SOUK_PRECONDITION, "test.notify: payload.user_id missing");
    return notify(c, user, type ? type : "test.event", data, ei);
}

static int test_notify(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    return db_tx_run(db, notify_tx, (void *)job->payload, ei);
}

static int mail_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const json_t *p = arg;
    const char *to = json_string_value(json_object_get(p, "to"));
    const char *tmpl = json_string_value(json_object_get(p, "template"));

    if (!to)
        return souk_fail(ei, SOUK_PRECONDITION, "test.mail: payload.to missing");
    return mail_enqueue(c, to, tmpl ? tmpl : "test", json_object_get(p, "vars"),
                        json_string_value(json_object_get(p, "key")), ei);
}

static int test_mail(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    return db_tx_run(db, mail_tx, (void *)job->payload, ei);
}

int testjobs_init(void)
{
    static int done;

    if (!jobs_test_mode())
        return 0;
    if (!done) {
        job_register("test.record", test_record, 5);
        job_register("test.sleep", test_sleep, 5);
        job_register("test.fail", test_fail, 5);
        job_register("test.notify", test_notify, 3);
        job_register("test.mail", test_mail, 3);
        done = 1;
    }
    return 1;
}
