/* jobs.c - souk's own clock over subscriptions: access ends on time even
 * when no webhook comes, and provider calls happen outside transactions.
 *
 *   subscriptions.period_end   at period end (+ a short settle for renewals):
 *                              set to cancel -> canceled; otherwise ask the
 *                              provider (reconcile): a confirmed renewal
 *                              extends the period, else -> past_due with
 *                              grace_until = period end + grace
 *   subscriptions.grace_end    at grace_until: still past_due -> reconcile,
 *                              else expired
 *   subscriptions.provider     tells the provider about a user action
 *                              (cancel at period end / resume / cancel now /
 *                              new price); converges to the row's state
 *   subscriptions.expire_checkout  expires the checkout of a replaced one
 *   subscriptions.sweep        every 30 s: runs the first two for any
 *                              subscription past its time (a lost job)
 *
 * Every job re-reads the row and acts only if the state it was made for
 * still holds, so running one twice or late is harmless.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "subscriptions/internal.h"

struct due {
    const char *id;
    int grace; /* grace end (else period end) */
    struct payment_subscription ps;
    int confirmed; /* the provider reports a later paid period */
    int need_provider;
    char provider_id[PAYMENTS_ID_MAX];
};

/* Step 1 and 3: decide on the locked row. With need_provider set and no
 * answer yet, only says whether the provider must be asked. */
static int decide_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct due *d = arg;
    struct arena *a = arena_new(0);
    struct subs_cause why = {d->grace ? "job:grace_end" : "job:period_end", NULL, NULL, NULL};
    struct subscription s;
    char from[12];
    int64_t now = clock_now_us();
    int err = subs_load(tx, d->id, 1, a, &s, ei);

    if (err || (d->grace && (strcmp(s.status, "past_due") || s.grace_until > now)) ||
        (!d->grace && (strcmp(s.status, "active") || s.current_period_end > now))) {
        arena_free(a);
        return err == SOUK_NOT_FOUND ? 0 : err;
    }
    snprintf(from, sizeof from, "%s", s.status);
    if (!d->grace && s.cancel_at_period_end) {
        subs_end(&s, "canceled");
        why.detail = "canceled at period end";
    } else if (!s.provider_id && s.plan_price == 0) {
        subs_renew(&s, s.current_period_end,
                   s.current_period_end + subs_interval_us(s.plan_interval));
        why.detail = "free tier renewed";
    } else if (!d->need_provider && s.provider_id) {
        d->need_provider = 1; /* ask first, outside the transaction */
        snprintf(d->provider_id, sizeof d->provider_id, "%s", s.provider_id);
        arena_free(a);
        return 0;
    } else if (d->confirmed && d->ps.current_period_end > s.current_period_end) {
        subs_renew(&s, d->ps.current_period_start, d->ps.current_period_end);
        why.cause = "reconcile";
        why.detail = "renewal confirmed by the provider";
    } else if (!d->grace) {
        subs_past_due(&s);
        why.detail = "not renewed by period end";
    } else {
        subs_end(&s, "expired");
        why.detail = "grace period ended unpaid";
    }
    err = subs_commit_change(tx, from, &s, &why, a, ei);
    arena_free(a);
    return err;
}

static int run_due(struct db *db, const char *id, int grace, struct souk_errinfo *ei)
{
    struct due d = {.id = id, .grace = grace};
    int err = db_tx_run(db, decide_tx, &d, ei);

    if (err || !d.need_provider)
        return err;
    if (payments_subscription_retrieve(d.provider_id, &d.ps, ei) == 0)
        d.confirmed = (!strcmp(d.ps.status, "active") || !strcmp(d.ps.status, "trialing"));
    souk_errinfo_cleanup(ei); /* an unreachable provider confirms nothing */
    memset(ei, 0, sizeof *ei);
    return db_tx_run(db, decide_tx, &d, ei);
}

static int job_period_end(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(job->payload, "id"));

    return id ? run_due(db, id, 0, ei) : souk_fail(ei, SOUK_PRECONDITION, "no id");
}

static int job_grace_end(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(job->payload, "id"));

    return id ? run_due(db, id, 1, ei) : souk_fail(ei, SOUK_PRECONDITION, "no id");
}

/* ---- telling the provider ------------------------------------------------------------- */

struct provider_args {
    const char *id;
    struct arena *a;
    struct subscription s;
    int64_t price;
    const char *product;
};

static int provider_load(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct provider_args *p = arg;
    struct db_res *res = NULL;
    int err = subs_load(c, p->id, 0, p->a, &p->s, ei);

    p->price = p->s.plan_price;
    p->product = arena_sprintf(p->a, "Subscription: %s", p->s.plan_name);
    if (err || !p->s.pending_plan_id[0])
        return err;
    err = db_query(c, "SELECT price, name FROM plans WHERE id = $1",
                   DB_PARAMS(DBT(p->s.pending_plan_id)), &res, ei);
    if (!err && db_nrows(res) == 1) {
        p->price = db_int(res, 0, 0);
        p->product = arena_sprintf(p->a, "Subscription: %s", db_get(res, 0, 1));
    }
    db_res_free(res);
    return err;
}

static int provider_call(const char *op, struct provider_args *p, struct souk_errinfo *ei)
{
    struct payment_subscription ps;

    if (!strcmp(op, "cancel_now"))
        return payments_subscription_cancel(p->s.provider_id, &ps, ei);
    if (!strcmp(op, "change_price"))
        return p->price > 0
                   ? payments_subscription_change_price(p->s.provider_id, p->price, p->product, ei)
                   : 0;
    if (subs_is_final(&p->s))
        return 0;
    return payments_subscription_set_cancel(p->s.provider_id, p->s.cancel_at_period_end, &ps, ei);
}

static int job_provider(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct provider_args p = {.id = json_string_value(json_object_get(job->payload, "id"))};
    const char *op = json_string_value(json_object_get(job->payload, "op"));
    int err;

    if (!p.id || !op)
        return souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    p.a = arena_new(0);
    err = db_run(db, provider_load, &p, ei);
    if (!err && p.s.provider_id && *p.s.provider_id)
        err = provider_call(op, &p, ei);
    if (err == SOUK_NOT_FOUND)
        err = souk_fail(ei, SOUK_PRECONDITION, "subscription unknown here or at the provider");
    arena_free(p.a);
    return err;
}

static int job_expire_checkout(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *pid = json_string_value(json_object_get(job->payload, "payment_id"));
    int err;

    if (!pid)
        return souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    err = payments_checkout_expire(db, pid, ei);
    if (err == SOUK_NOT_FOUND || err == SOUK_PRECONDITION) { /* gone or already closed */
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return 0;
    }
    return err;
}

/* ---- the sweep -------------------------------------------------------------------------- */

struct overdue {
    int n;
    char id[64][37];
    int grace[64];
};

static int overdue_find(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct overdue *o = arg;
    struct db_res *res = NULL;
    int64_t now = clock_now_us();
    int err = db_query(c,
                       "SELECT id, status FROM subscriptions WHERE (status = 'active' AND "
                       "current_period_end < $1) OR (status = 'past_due' AND grace_until < $2) "
                       "ORDER BY updated_at LIMIT 64",
                       DB_PARAMS(DBI(now - INT64_C(60) * 1000000), DBI(now)), &res, ei);

    for (int i = 0; !err && i < db_nrows(res); i++) {
        snprintf(o->id[o->n], 37, "%s", db_get(res, i, 0));
        o->grace[o->n++] = strcmp(db_get(res, i, 1), "past_due") == 0;
    }
    db_res_free(res);
    return err;
}

static int sweep(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct overdue o = {0};
    int err = db_run(db, overdue_find, &o, ei);

    (void)job;
    for (int i = 0; !err && i < o.n; i++)
        err = run_due(db, o.id[i], o.grace[i], ei);
    return err;
}

void subs_jobs_register(void)
{
    job_register(SUBS_JOB_PERIOD_END, job_period_end, 10);
    job_register_provider(SUBS_JOB_GRACE_END, job_grace_end, 10);
    job_register_provider(SUBS_JOB_PROVIDER, job_provider, 10);
    job_register_provider(SUBS_JOB_EXPIRE_CHECKOUT, job_expire_checkout, 5);
    job_recurring(SUBS_SWEEP, 30, sweep);
}
