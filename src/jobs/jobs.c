/* jobs.c - the durable job queue: enqueue, claim, run, retry, recurring
 * sweeps, and the worker and maintenance threads.
 *
 * Life of a job (see jobs.h for the contract):
 *   job_enqueue     INSERT ... ON CONFLICT DO NOTHING in the caller's
 *                   transaction; an after-commit hook wakes idle workers.
 *   claim           one statement flips a due pending job (or a running one
 *                   whose lease expired) to running, stamps locked_by with
 *                   this node's id and the lease end, and adds one to
 *                   attempt. PostgreSQL: the inner SELECT takes FOR UPDATE
 *                   SKIP LOCKED so concurrent claimers never block on or
 *                   take the same row. SQLite: the same inside BEGIN
 *                   IMMEDIATE (writers are serialised, so it is atomic).
 *   run             the kind's handler, outside any transaction.
 *   finish          done, or pending again at run_at = now + backoff, or
 *                   dead; the update matches (id, locked_by, attempt), so a
 *                   worker whose lease was taken over cannot overwrite the
 *                   newer run's outcome (attempt is the fencing token).
 *
 * Threads: N workers (poll with a sleep growing 50 ms -> 1 s while idle,
 * woken early by jobs_wake; a provider kind runs in a fiber of the worker,
 * which goes on claiming while the fiber is parked on a provider call, up
 * to JOBS_FIBERS_PER_WORKER at once) and one maintenance thread that renews the
 * leases of every job this node runs (every lease/3), claims due recurring
 * schedules (once a second, only on nodes with workers) and refreshes the
 * queue-depth gauges (every 5 s).
 *
 * Thread safety: job_register / job_recurring before jobs_start (main
 * thread). job_enqueue, jobs_wake, jobs_run_one, jobs_retry, jobs_discard
 * from any thread. jobs_start / jobs_stop from one thread, in pairs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/fiber.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"

#define JOBS_MAX_KINDS        64
#define JOBS_MAX_RECURRING    16
#define JOBS_DEFAULT_ATTEMPTS 5
#define JOBS_LEASE_DEFAULT_S  30
#define JOBS_BACKOFF_BASE_MS  1000
#define JOBS_BACKOFF_CAP_MS   (3600LL * 1000)
#define JOBS_IDLE_MIN_MS      50
#define JOBS_IDLE_MAX_MS      1000
#define JOBS_KEEP_DONE_US     (7LL * 24 * 3600 * 1000000)
#define JOBS_GAUGE_EVERY_US   (5LL * 1000000)
#define JOBS_ERROR_MAX        1000

struct kind {
    char *name;
    job_handler fn;
    int max_attempts;
    int provider; /* runs in a fiber (job_register_provider) */
};

struct recurring {
    char *name;
    int interval_s;
};

/* A claimed row, copied out of the result. */
struct claimed {
    char id[37];
    char kind[128];
    char *payload; /* malloc'd */
    int attempt, max_attempts;
    int64_t run_at;
};

static struct kind kinds[JOBS_MAX_KINDS];
static int nkinds;
static struct recurring recurrings[JOBS_MAX_RECURRING];
static int nrecurrings;

static struct {
    struct db *db;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers and maintenance sleep on it */
    pthread_cond_t idle; /* jobs_stop waits on it for live == 0 */
    unsigned wake_seq;
    int started, stopping;
    int nworkers, live;
    pthread_t *workers;
    pthread_t maint;
    int lease_s;
    int64_t backoff_base_ms;
} J = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .lease_s = JOBS_LEASE_DEFAULT_S,
       .backoff_base_ms = JOBS_BACKOFF_BASE_MS};

static char node_id[96];
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static void read_env(void);
static pthread_once_t node_once = PTHREAD_ONCE_INIT;

/* ---- registry ------------------------------------------------------------ */

static void register_kind(const char *kind, job_handler fn, int max_attempts, int provider)
{
    struct kind *k = NULL;

    for (int i = 0; i < nkinds && !k; i++)
        if (!strcmp(kinds[i].name, kind)) /* re-registering replaces */
            k = &kinds[i];
    if (!k) {
        if (nkinds == JOBS_MAX_KINDS) {
            log_error("jobs: too many kinds, %s not registered", kind);
            abort();
        }
        k = &kinds[nkinds++];
        k->name = xstrdup(kind);
    }
    k->fn = fn;
    k->max_attempts = max_attempts > 0 ? max_attempts : JOBS_DEFAULT_ATTEMPTS;
    k->provider = provider;
}

void job_register(const char *kind, job_handler fn, int max_attempts)
{
    register_kind(kind, fn, max_attempts, 0);
}

void job_register_provider(const char *kind, job_handler fn, int max_attempts)
{
    register_kind(kind, fn, max_attempts, 1);
}

static const struct kind *kind_find(const char *name)
{
    for (int i = 0; i < nkinds; i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

void job_recurring(const char *name, int interval_seconds, job_handler fn)
{
    for (int i = 0; i < nrecurrings; i++) {
        if (!strcmp(recurrings[i].name, name)) {
            recurrings[i].interval_s = interval_seconds;
            job_register(name, fn, 3);
            return;
        }
    }
    if (nrecurrings == JOBS_MAX_RECURRING) {
        log_error("jobs: too many recurring sweeps, %s not registered", name);
        abort();
    }
    recurrings[nrecurrings].name = xstrdup(name);
    recurrings[nrecurrings].interval_s = interval_seconds > 0 ? interval_seconds : 60;
    nrecurrings++;
    job_register(name, fn, 3);
}

static void node_init(void)
{
    char host[64] = "node";
    char rnd[37];

    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    uuid_v7(rnd);
    snprintf(node_id, sizeof node_id, "%s/%ld/%.8s", host, (long)getpid(), rnd + 28);
}

const char *jobs_node_id(void)
{
    pthread_once(&node_once, node_init);
    return node_id;
}

/* ---- enqueue ------------------------------------------------------------ */

static void wake_hook(void *arg)
{
    (void)arg;
    jobs_wake();
}

void jobs_wake(void)
{
    pthread_mutex_lock(&J.mu);
    J.wake_seq++;
    pthread_cond_broadcast(&J.wake);
    pthread_mutex_unlock(&J.mu);
}

static int existing_id(struct db_conn *tx, const char *key, char out_id[37],
                       struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT id FROM jobs WHERE unique_key = $1 AND state IN "
                       "('pending', 'running')",
                       DB_PARAMS(DBT(key)), &r, ei);
    if (!err && out_id)
        snprintf(out_id, 37, "%s", db_nrows(r) ? db_get(r, 0, 0) : "");
    db_res_free(r);
    return err;
}

int job_enqueue(struct db_conn *tx, const char *kind, const json_t *payload, int64_t run_at,
                const char *unique_key, char out_id[37], struct souk_errinfo *ei)
{
    const struct kind *k = kind_find(kind);
    int64_t now = clock_now_us(), changed = 0;
    char id[37], *text;
    int err;

    if (!kind || !*kind || strlen(kind) >= sizeof(((struct claimed *)0)->kind))
        return souk_fail(ei, SOUK_INVALID, "job kind missing or too long");
    text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    uuid_v7(id);
    err = db_exec(tx,
                  "INSERT INTO jobs (id, kind, payload, state, unique_key, max_attempts, run_at, "
                  "created_at) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7) "
                  "ON CONFLICT DO NOTHING",
                  DB_PARAMS(DBT(id), DBT(kind), DBT(text ? text : "{}"), DBT(unique_key),
                            DBI(k ? k->max_attempts : JOBS_DEFAULT_ATTEMPTS),
                            DBI(run_at > 0 ? run_at : now), DBI(now)),
                  &changed, ei);
    free(text);
    if (err)
        return err;
    if (changed == 0) /* the key is held by a live job: a no-op */
        return unique_key ? existing_id(tx, unique_key, out_id, ei)
                          : souk_fail(ei, SOUK_INTERNAL, "job insert ignored");
    if (out_id)
        memcpy(out_id, id, 37);
    if (run_at <= now + 1000000)
        db_after_commit(tx, wake_hook, NULL, NULL);
    return 0;
}

/* ---- claim -------------------------------------------------------------- */

static const char *claim_sql(enum db_dialect d)
{
    /* $1 node, $2 lease end, $3 now. Expired running rows were due when
     * first claimed, so run_at <= now holds for them too (index jobs_due). */
    if (d == DB_PGSQL)
        return "UPDATE jobs SET state = 'running', locked_by = $1, lease_until = $2, "
               "attempt = attempt + 1, started_at = $3 WHERE id IN (SELECT id FROM jobs "
               "WHERE state IN ('pending', 'running') AND run_at <= $3 AND "
               "(state = 'pending' OR lease_until < $3) ORDER BY run_at LIMIT 1 "
               "FOR UPDATE SKIP LOCKED) "
               "RETURNING id, kind, payload, attempt, max_attempts, run_at";
    return "UPDATE jobs SET state = 'running', locked_by = $1, lease_until = $2, "
           "attempt = attempt + 1, started_at = $3 WHERE id IN (SELECT id FROM jobs "
           "WHERE state IN ('pending', 'running') AND run_at <= $3 AND "
           "(state = 'pending' OR lease_until < $3) ORDER BY run_at LIMIT 1) "
           "RETURNING id, kind, payload, attempt, max_attempts, run_at";
}

static int claim_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct claimed *cj = arg;
    int64_t now = clock_now_us();
    struct db_res *r = NULL;
    int err;

    free(cj->payload);
    memset(cj, 0, sizeof(*cj));
    err = db_query(
        c, claim_sql(db_conn_dialect(c)),
        DB_PARAMS(DBT(jobs_node_id()), DBI(now + (int64_t)J.lease_s * 1000000), DBI(now)), &r, ei);
    if (!err && db_nrows(r) == 1) {
        snprintf(cj->id, sizeof cj->id, "%s", db_get(r, 0, 0));
        snprintf(cj->kind, sizeof cj->kind, "%s", db_get(r, 0, 1));
        cj->payload = xstrdup(db_get(r, 0, 2) ? db_get(r, 0, 2) : "{}");
        cj->attempt = (int)db_int(r, 0, 3);
        cj->max_attempts = (int)db_int(r, 0, 4);
        cj->run_at = db_int(r, 0, 5);
    }
    db_res_free(r);
    return err;
}

/* ---- finish ------------------------------------------------------------- */

/* base x 2^(attempt-1), capped at an hour, then +-25 % jitter. */
static int64_t backoff_ms(int attempt)
{
    static _Thread_local unsigned seed;
    int64_t ms = J.backoff_base_ms > 0 ? J.backoff_base_ms : 1;
    double jitter;

    if (!seed)
        seed = (unsigned)clock_mono_us() ^ (unsigned)(uintptr_t)&seed;
    for (int i = 1; i < attempt && ms < JOBS_BACKOFF_CAP_MS; i++)
        ms *= 2;
    if (ms > JOBS_BACKOFF_CAP_MS)
        ms = JOBS_BACKOFF_CAP_MS;
    jitter = 0.75 + 0.5 * ((double)rand_r(&seed) / (double)RAND_MAX);
    return (int64_t)((double)ms * jitter);
}

struct finish {
    const struct claimed *cj;
    const char *state; /* done | pending | dead */
    int64_t run_at;    /* for pending */
    const char *error; /* NULL keeps the previous last_error */
};

static int finish_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct finish *f = arg;
    int64_t now = clock_now_us(), changed = 0;
    int err =
        db_exec(c,
                "UPDATE jobs SET state = $1, run_at = $2, "
                "last_error = COALESCE($3, last_error), finished_at = $4, "
                "locked_by = NULL, lease_until = NULL WHERE id = $5 AND locked_by = $6 "
                "AND attempt = $7 AND state = 'running'",
                DB_PARAMS(DBT(f->state), DBI(f->run_at ? f->run_at : f->cj->run_at), DBT(f->error),
                          DBI(now), DBT(f->cj->id), DBT(jobs_node_id()), DBI(f->cj->attempt)),
                &changed, ei);
    if (!err && changed == 0)
        log_warn("jobs: %s %s: lease lost before it finished (another run owns it)", f->cj->kind,
                 f->cj->id);
    return err;
}

static void finish_job(struct db *db, const struct claimed *cj, const char *state, int64_t run_at,
                       const char *error)
{
    struct finish f = {cj, state, run_at, error};
    struct souk_errinfo ei = {0};
    char labels[192];

    if (db_tx_run(db, finish_tx, &f, &ei))
        log_error("jobs: cannot record %s of %s %s: %s (the lease will expire and it runs "
                  "again)",
                  state, cj->kind, cj->id, ei.detail);
    souk_errinfo_cleanup(&ei);
    metrics_labels(labels, sizeof labels, "kind", cj->kind, "outcome",
                   !strcmp(state, "pending") ? "retry" : state, (char *)NULL);
    metrics_counter_add("souk_jobs_runs_total", labels, 1);
}

static void fail_job(struct db *db, const struct claimed *cj, int err,
                     const struct souk_errinfo *ei)
{
    char msg[JOBS_ERROR_MAX], labels[160];
    int dead = err == SOUK_PRECONDITION || cj->attempt >= cj->max_attempts;

    snprintf(msg, sizeof msg, "%s: %s (attempt %d of %d)", souk_err_str(err),
             ei && ei->detail[0] ? ei->detail : "failed", cj->attempt, cj->max_attempts);
    metrics_labels(labels, sizeof labels, "kind", cj->kind, (char *)NULL);
    metrics_counter_add("souk_jobs_failures_total", labels, 1);
    log_json(dead ? LOG_ERROR : LOG_WARN, dead ? "job dead" : "job failed, will retry",
             json_pack("{s:s, s:s, s:i, s:s}", "kind", cj->kind, "id", cj->id, "attempt",
                       cj->attempt, "error", msg));
    if (dead)
        finish_job(db, cj, "dead", 0, msg);
    else
        finish_job(db, cj, "pending", clock_now_us() + backoff_ms(cj->attempt) * 1000, msg);
}

/* ---- run ---------------------------------------------------------------- */

static void observe_start(const struct claimed *cj, int64_t started)
{
    char labels[160];

    metrics_labels(labels, sizeof labels, "kind", cj->kind, (char *)NULL);
    metrics_observe("souk_jobs_start_delay_seconds", labels, (double)(started - cj->run_at) / 1e6);
}

static void run_claimed(struct db *db, const struct claimed *cj)
{
    const struct kind *k = kind_find(cj->kind);
    struct souk_errinfo ei = {0};
    json_error_t jerr;
    json_t *payload;
    int64_t t0 = clock_mono_us();
    char labels[160];
    int err;

    if (cj->attempt > cj->max_attempts) { /* its workers died every time */
        finish_job(db, cj, "dead", 0, "lease expired on every attempt (worker died?)");
        return;
    }
    if (!k) {
        souk_fail(&ei, SOUK_INTERNAL, "no handler for kind %s on this node", cj->kind);
        fail_job(db, cj, SOUK_INTERNAL, &ei);
        return;
    }
    if (!(payload = json_loads(cj->payload, 0, &jerr))) {
        finish_job(db, cj, "dead", 0, "payload is not JSON");
        return;
    }
    observe_start(cj, clock_now_us());
    struct job job = {.kind = cj->kind,
                      .payload = payload,
                      .attempt = cj->attempt,
                      .max_attempts = cj->max_attempts,
                      .run_at = cj->run_at};
    memcpy(job.id, cj->id, sizeof job.id);
    err = k->fn(db, &job, &ei);
    metrics_labels(labels, sizeof labels, "kind", cj->kind, (char *)NULL);
    metrics_observe("souk_jobs_duration_seconds", labels, (double)(clock_mono_us() - t0) / 1e6);
    if (err)
        fail_job(db, cj, err, &ei);
    else
        finish_job(db, cj, "done", 0, NULL);
    souk_errinfo_cleanup(&ei);
    json_decref(payload);
}

int jobs_run_one(struct db *db, int *ran, struct souk_errinfo *ei)
{
    struct claimed cj = {0};
    int err;

    *ran = 0;
    pthread_once(&env_once, read_env);
    if ((err = db_tx_run(db, claim_tx, &cj, ei))) {
        free(cj.payload);
        return err;
    }
    if (cj.id[0]) {
        run_claimed(db, &cj);
        *ran = 1;
    }
    free(cj.payload);
    return 0;
}

/* ---- provider jobs in fibers -------------------------------------------------
 * A worker runs a provider kind's handler in a fiber; while it is parked on
 * a provider call the worker claims and runs other jobs, up to
 * JOBS_FIBERS_PER_WORKER fibers at once. A parked fiber is resumed by the
 * worker that started it, when its waker has put it on that worker's
 * `ready` list. Other kinds run on the worker's own stack, as before. */
#define JOBS_FIBERS_PER_WORKER 16

struct jfiber {
    struct claimed cj;
    struct fiber *f;
    struct jworker *w;
    struct jfiber *next;
};

/* One per worker thread; `ready` is guarded by J.mu, `parked` is the
 * worker's own. */
struct jworker {
    struct jfiber *ready, *ready_tail;
    int parked; /* fibers started here and not finished */
};

static void jfiber_main(void *ud)
{
    struct jfiber *jf = ud;
    run_claimed(J.db, &jf->cj);
}

/* Any thread: the fiber's provider call ended; its worker resumes it. */
static void jfiber_ready(struct fiber *f, void *ud)
{
    struct jworker *w = ud;
    struct jfiber *jf = fiber_data(f);

    pthread_mutex_lock(&J.mu);
    jf->next = NULL;
    if (w->ready_tail)
        w->ready_tail->next = jf;
    else
        w->ready = jf;
    w->ready_tail = jf;
    J.wake_seq++;
    pthread_cond_broadcast(&J.wake);
    pthread_mutex_unlock(&J.mu);
}

static void jfiber_run(struct jworker *w, struct jfiber *jf)
{
    if (!fiber_resume(jf->f))
        return; /* parked: jfiber_ready brings it back */
    fiber_free(jf->f);
    free(jf->cj.payload);
    free(jf);
    w->parked--;
}

static struct jfiber *take_ready(struct jworker *w)
{
    pthread_mutex_lock(&J.mu);
    struct jfiber *jf = w->ready;
    if (jf && !(w->ready = jf->next))
        w->ready_tail = NULL;
    pthread_mutex_unlock(&J.mu);
    return jf;
}

/* Claims one due job and runs it: a provider kind in a new fiber (inline
 * when no fiber stack can be had), any other on this stack. 1: one ran, 0:
 * none due, -1: the claim failed (ei). */
static int claim_and_start(struct jworker *w, struct souk_errinfo *ei)
{
    struct claimed cj = {0};
    const struct kind *k;
    struct jfiber *jf;
    int err = db_tx_run(J.db, claim_tx, &cj, ei);

    if (err || !cj.id[0]) {
        free(cj.payload);
        return err ? -1 : 0;
    }
    k = kind_find(cj.kind);
    if (k && k->provider) {
        jf = xcalloc(1, sizeof *jf);
        jf->cj = cj; /* the payload goes with it */
        if ((jf->f = fiber_new(jfiber_main, jf, jfiber_ready, w))) {
            jf->w = w;
            w->parked++;
            jfiber_run(w, jf);
            return 1;
        }
        free(jf);
    }
    run_claimed(J.db, &cj); /* on this stack (no fiber stack to be had, or not a provider kind) */
    free(cj.payload);
    return 1;
}

/* ---- worker threads ----------------------------------------------------- */

static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int stopping(void)
{
    pthread_mutex_lock(&J.mu);
    int s = J.stopping;
    pthread_mutex_unlock(&J.mu);
    return s;
}

/* Sleeps up to ms unless a fiber of w is ready or (not stopping) a job was
 * enqueued. Stopping, it waits only for its parked fibers. 1 if woken. */
static int worker_wait(struct jworker *w, int64_t ms, unsigned *seen)
{
    struct timespec ts = deadline_in(ms);
    int woken;

    pthread_mutex_lock(&J.mu);
    while (!w->ready && (J.stopping ? w->parked > 0 : J.wake_seq == *seen))
        if (pthread_cond_timedwait(&J.wake, &J.mu, &ts) == ETIMEDOUT)
            break;
    woken = w->ready || J.wake_seq != *seen;
    *seen = J.wake_seq;
    pthread_mutex_unlock(&J.mu);
    return woken;
}

static void *worker_main(void *arg)
{
    int64_t idle_ms = JOBS_IDLE_MIN_MS;
    unsigned seen = 0;
    struct jworker w = {0};

    (void)arg;
    pthread_once(&env_once, read_env);
    for (;;) {
        struct souk_errinfo ei = {0};
        struct jfiber *jf = take_ready(&w);
        int halt = stopping();

        if (jf) {
            jfiber_run(&w, jf);
            continue;
        }
        if (halt && w.parked == 0)
            break;
        /* no new claims while stopping: the parked fibers finish first */
        int ran = halt || w.parked >= JOBS_FIBERS_PER_WORKER ? 0 : claim_and_start(&w, &ei);
        if (ran > 0) {
            idle_ms = JOBS_IDLE_MIN_MS;
            continue;
        }
        if (ran < 0)
            log_warn("jobs: claim failed: %s", ei.detail);
        souk_errinfo_cleanup(&ei);
        if (worker_wait(&w, halt ? 1000 : idle_ms, &seen))
            idle_ms = JOBS_IDLE_MIN_MS;
        else if ((idle_ms *= 2) > JOBS_IDLE_MAX_MS)
            idle_ms = JOBS_IDLE_MAX_MS;
    }
    pthread_mutex_lock(&J.mu);
    J.live--;
    pthread_cond_broadcast(&J.idle);
    pthread_mutex_unlock(&J.mu);
    return NULL;
}

/* ---- maintenance: leases, schedules, gauges ----------------------------- */

static int renew_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    (void)arg;
    return db_exec(
        c, "UPDATE jobs SET lease_until = $1 WHERE locked_by = $2 AND state = 'running'",
        DB_PARAMS(DBI(clock_now_us() + (int64_t)J.lease_s * 1000000), DBT(jobs_node_id())), NULL,
        ei);
}

static int schedule_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct recurring *rc = arg;
    int64_t now = clock_now_us(), changed = 0;
    char key[160];
    int err;

    err = db_exec(c,
                  "INSERT INTO job_schedules (name, next_run_at) VALUES ($1, $2) "
                  "ON CONFLICT DO NOTHING",
                  DB_PARAMS(DBT(rc->name), DBI(now)), NULL, ei);
    if (!err)
        err = db_exec(
            c,
            "UPDATE job_schedules SET next_run_at = $2 WHERE name = $1 AND "
            "next_run_at <= $3",
            DB_PARAMS(DBT(rc->name), DBI(now + (int64_t)rc->interval_s * 1000000), DBI(now)),
            &changed, ei);
    if (err || changed == 0)
        return err;
    snprintf(key, sizeof key, "recurring:%s", rc->name);
    return job_enqueue(c, rc->name, NULL, 0, key, NULL, ei);
}

/* Series seen at the previous refresh, so that emptied ones drop to 0. */
static char **gauge_seen;
static int ngauge_seen;

static void gauges_refresh(void)
{
    struct souk_errinfo ei = {0};
    struct db_conn *c = db_acquire(J.db, 1000);
    struct db_res *r = NULL;
    char labels[192];

    if (!c)
        return;
    for (int i = 0; i < ngauge_seen; i++)
        metrics_gauge_set("souk_jobs_queue_depth", gauge_seen[i], 0);
    if (!db_query(c,
                  "SELECT kind, state, count(*) FROM jobs WHERE state <> 'done' "
                  "GROUP BY kind, state",
                  DB_NOPARAMS, &r, &ei)) {
        for (int i = 0; i < db_nrows(r); i++) {
            metrics_labels(labels, sizeof labels, "kind", db_get(r, i, 0), "state", db_get(r, i, 1),
                           (char *)NULL);
            metrics_gauge_set("souk_jobs_queue_depth", labels, (double)db_int(r, i, 2));
            int known = 0;
            for (int k = 0; k < ngauge_seen && !known; k++)
                known = !strcmp(gauge_seen[k], labels);
            if (!known && ngauge_seen < 256) {
                gauge_seen = xrealloc(gauge_seen, sizeof(char *) * (size_t)(ngauge_seen + 1));
                gauge_seen[ngauge_seen++] = xstrdup(labels);
            }
        }
    }
    db_res_free(r);
    db_release(c);
    souk_errinfo_cleanup(&ei);
}

static void maint_tick(int64_t now, int64_t *next_renew, int64_t *next_sched, int64_t *next_gauge)
{
    struct souk_errinfo ei = {0};

    if (now >= *next_renew) {
        if (db_tx_run(J.db, renew_tx, NULL, &ei))
            log_warn("jobs: lease renewal failed: %s", ei.detail);
        *next_renew = now + (int64_t)J.lease_s * 1000000 / 3;
    }
    if (J.nworkers > 0 && now >= *next_sched) {
        for (int i = 0; i < nrecurrings; i++) {
            souk_errinfo_cleanup(&ei);
            memset(&ei, 0, sizeof ei);
            if (db_tx_run(J.db, schedule_tx, &recurrings[i], &ei))
                log_warn("jobs: schedule %s: %s", recurrings[i].name, ei.detail);
        }
        *next_sched = now + 1000000;
    }
    if (now >= *next_gauge) {
        gauges_refresh();
        *next_gauge = now + JOBS_GAUGE_EVERY_US;
    }
    souk_errinfo_cleanup(&ei);
}

static void *maint_main(void *arg)
{
    int64_t next_renew = 0, next_sched = 0, next_gauge = 0;
    int64_t tick_ms = (int64_t)J.lease_s * 1000 / 6;

    (void)arg;
    if (tick_ms > 1000)
        tick_ms = 1000;
    if (tick_ms < 50)
        tick_ms = 50;
    for (;;) {
        struct timespec ts = deadline_in(tick_ms);
        int stop;

        maint_tick(clock_mono_us(), &next_renew, &next_sched, &next_gauge);
        pthread_mutex_lock(&J.mu);
        if (!J.stopping)
            pthread_cond_timedwait(&J.idle, &J.mu, &ts);
        stop = J.stopping && J.live == 0;
        pthread_mutex_unlock(&J.mu);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- built-in sweep ----------------------------------------------------- */

static int prune_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err;

    (void)arg;
    err = db_exec(c, "DELETE FROM jobs WHERE state = 'done' AND finished_at < $1",
                  DB_PARAMS(DBI(clock_now_us() - JOBS_KEEP_DONE_US)), &n, ei);
    if (!err && n)
        log_info("jobs: pruned %lld finished job(s) older than 7 days", (long long)n);
    return err;
}

static int prune_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    (void)job;
    return db_tx_run(db, prune_tx, NULL, ei);
}

/* ---- start / stop ------------------------------------------------------- */

static void read_env(void)
{
    const char *s;

    /* read once per process, before any claim */

    if ((s = getenv("SOUK_JOB_LEASE_SECONDS")) && atoi(s) > 0)
        J.lease_s = atoi(s);
    if ((s = getenv("SOUK_JOB_BACKOFF_BASE_MS")) && atoll(s) > 0)
        J.backoff_base_ms = atoll(s);
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

int jobs_test_mode(void)
{
    const char *on = getenv("SOUK_TEST_JOBS");
    return on && strcmp(on, "1") == 0;
}

int jobs_start(struct db *db, int nworkers, struct souk_errinfo *ei)
{
    if (J.started)
        return souk_fail(ei, SOUK_INTERNAL, "jobs already started");
    pthread_once(&env_once, read_env);
    job_recurring("jobs.prune", 3600, prune_job);
    cond_init_mono(&J.wake);
    cond_init_mono(&J.idle);
    J.db = db;
    J.stopping = 0;
    J.nworkers = nworkers > 0 ? nworkers : 0;
    J.workers = J.nworkers ? xcalloc((size_t)J.nworkers, sizeof(pthread_t)) : NULL;
    J.started = 1;
    for (int i = 0; i < J.nworkers; i++) {
        if (pthread_create(&J.workers[i], NULL, worker_main, NULL)) {
            J.nworkers = i;
            jobs_stop(0);
            return souk_fail(ei, SOUK_INTERNAL, "cannot start job worker threads");
        }
        pthread_mutex_lock(&J.mu);
        J.live++;
        pthread_mutex_unlock(&J.mu);
    }
    if (pthread_create(&J.maint, NULL, maint_main, NULL)) {
        jobs_stop(0);
        return souk_fail(ei, SOUK_INTERNAL, "cannot start the job maintenance thread");
    }
    log_info("jobs: %d worker(s), node %s, lease %d s", J.nworkers, jobs_node_id(), J.lease_s);
    return 0;
}

static int release_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err;

    (void)arg;
    err = db_exec(c,
                  "UPDATE jobs SET state = 'pending', locked_by = NULL, lease_until = NULL, "
                  "attempt = attempt - 1, run_at = $1 WHERE locked_by = $2 AND "
                  "state = 'running'",
                  DB_PARAMS(DBI(clock_now_us()), DBT(jobs_node_id())), &n, ei);
    if (!err && n)
        log_warn("jobs: released %lld running job(s) to other nodes", (long long)n);
    return err;
}

/* Waits for the workers until the monotonic deadline; returns how many
 * are still running. */
static int wait_workers(int timeout_s)
{
    struct timespec ts = deadline_in((int64_t)timeout_s * 1000);
    int live;

    pthread_mutex_lock(&J.mu);
    while (J.live > 0)
        if (pthread_cond_timedwait(&J.idle, &J.mu, &ts) == ETIMEDOUT)
            break;
    live = J.live;
    pthread_mutex_unlock(&J.mu);
    return live;
}

void jobs_stop(int timeout_s)
{
    struct souk_errinfo ei = {0};
    int live;

    if (!J.started)
        return;
    pthread_mutex_lock(&J.mu);
    J.stopping = 1;
    pthread_cond_broadcast(&J.wake);
    pthread_cond_broadcast(&J.idle);
    pthread_mutex_unlock(&J.mu);
    live = wait_workers(timeout_s > 0 ? timeout_s : 0);
    if (live > 0) {
        /* Handlers still busy: hand their jobs to other nodes. The threads
         * are left to end on their own; their finish is fenced out. */
        log_warn("jobs: %d handler(s) still running after %d s", live, timeout_s);
        if (db_tx_run(J.db, release_tx, NULL, &ei))
            log_error("jobs: release failed: %s", ei.detail);
        souk_errinfo_cleanup(&ei);
        for (int i = 0; i < J.nworkers; i++)
            pthread_detach(J.workers[i]);
        pthread_mutex_lock(&J.mu);
        J.live = 0; /* lets the maintenance thread leave */
        pthread_cond_broadcast(&J.idle);
        pthread_mutex_unlock(&J.mu);
    } else {
        for (int i = 0; i < J.nworkers; i++)
            pthread_join(J.workers[i], NULL);
    }
    pthread_join(J.maint, NULL);
    free(J.workers);
    J.workers = NULL;
    J.nworkers = 0;
    J.started = 0;
    pthread_cond_destroy(&J.wake);
    pthread_cond_destroy(&J.idle);
}

/* ---- admin operations --------------------------------------------------- */

struct admin_op {
    const char *id;
    int discard;
    const struct audit_actor *actor;
};

static int admin_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct admin_op *op = arg;
    struct db_res *r = NULL;
    int err, dead, pending;

    err = db_query(c, "SELECT state FROM jobs WHERE id = $1", DB_PARAMS(DBT(op->id)), &r, ei);
    if (err || db_nrows(r) == 0) {
        db_res_free(r);
        return err ? err : souk_fail(ei, SOUK_NOT_FOUND, "no such job");
    }
    dead = !strcmp(db_get(r, 0, 0), "dead");
    pending = !strcmp(db_get(r, 0, 0), "pending");
    db_res_free(r);
    if (!dead && !pending)
        return souk_fail(ei, SOUK_PRECONDITION, "only a pending or dead job can be %s",
                         op->discard ? "discarded" : "retried");
    json_t *b = json_pack("{s:s}", "state", dead ? "dead" : "pending");
    json_t *a = json_pack("{s:s}", "state", op->discard ? "dead" : "pending");
    err = audit_record(c, op->actor, op->discard ? "job.discard" : "job.retry", "job", op->id, b,
                       a, NULL, ei);
    json_decref(b), json_decref(a);
    if (err)
        return err;
    if (op->discard)
        return db_exec(c,
                       "UPDATE jobs SET state = 'dead', last_error = 'discarded', "
                       "finished_at = $2 WHERE id = $1",
                       DB_PARAMS(DBT(op->id), DBI(clock_now_us())), NULL, ei);
    /* a retried dead job gets a fresh set of attempts */
    return db_exec(c,
                   "UPDATE jobs SET state = 'pending', run_at = $2, locked_by = NULL, "
                   "lease_until = NULL, attempt = CASE WHEN state = 'dead' THEN 0 "
                   "ELSE attempt END WHERE id = $1",
                   DB_PARAMS(DBT(op->id), DBI(clock_now_us())), NULL, ei);
}

int jobs_retry(struct db *db, const struct audit_actor *actor, const char *id,
               struct souk_errinfo *ei)
{
    int err;

    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such job");
    err = db_tx_run(db, admin_tx, &(struct admin_op){id, 0, actor}, ei);
    if (err == SOUK_CONFLICT)
        souk_fail(ei, SOUK_CONFLICT, "another live job holds this job's unique key");
    if (!err)
        jobs_wake();
    return err;
}

int jobs_discard(struct db *db, const struct audit_actor *actor, const char *id,
                 struct souk_errinfo *ei)
{
    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such job");
    return db_tx_run(db, admin_tx, &(struct admin_op){id, 1, actor}, ei);
}

/* Erasure (userdata.h): jobs whose payload names `needle` (an email address)
 * forget it. Finished and dead ones keep their row with an empty payload;
 * pending ones (mail not sent yet) go. Running ones finish as they are. */
int jobs_forget_tx(struct db_conn *c, const char *needle, struct souk_errinfo *ei)
{
    int pg = db_conn_dialect(c) == DB_PGSQL;
    const char *has = pg ? "strpos(payload, $1) > 0" : "instr(payload, $1) > 0";
    char sql[256];
    int err;

    snprintf(sql, sizeof sql,
             "UPDATE jobs SET payload = '{}', last_error = NULL WHERE state IN ('done', 'dead') "
             "AND %s",
             has);
    if ((err = db_exec(c, sql, DB_PARAMS(DBT(needle)), NULL, ei)))
        return err;
    snprintf(sql, sizeof sql, "DELETE FROM jobs WHERE state = 'pending' AND %s", has);
    return db_exec(c, sql, DB_PARAMS(DBT(needle)), NULL, ei);
}
