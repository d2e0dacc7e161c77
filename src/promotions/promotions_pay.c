/* promotions_pay.c - how promotions meet money and time: the payment
 * purpose "promotion", activation, coverage, and the promotion jobs
 * (API.md § Home services, last paragraph, and § Payments and events of
 * the home-services routes).
 *
 *   paid      pending (or cancelled: a payment confirmed after the checkout
 *             expired still counts) -> active, from now or from the end of
 *             the target's current coverage by the product; the new end of
 *             coverage is pushed to the showcase; jobs for its expiry and
 *             its reminder are enqueued; promotion.activated.
 *   expired   the current checkout expired unpaid: pending -> cancelled.
 *
 * Jobs:
 *   promotion.expire          at ends_at: active -> expired, coverage pushed
 *                             again, promotion.expired (unique per promotion).
 *   promotion.remind          one promotion day before ends_at: unless a paid
 *                             promotion continues the coverage, emails the
 *                             owner and sends promotion.expiring, once
 *                             (reminded_at is set by a conditional UPDATE).
 *   promotion.checkout_expire souk's own clock for an unpaid checkout.
 *
 * Thread safety: the purpose table is static and read-only.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "payments/payments.h"
#include "projects/specialists.h"
#include "promotions/internal.h"
#include "users/users.h"

#define PURPOSE "promotion"
#define JOB_EXPIRE "promotion.expire"
#define JOB_REMIND "promotion.remind"
#define JOB_CHECKOUT_EXPIRE "promotion.checkout_expire"

static int64_t day_us(void)
{
    return (int64_t)(souk_cfg && souk_cfg->promotion_day_seconds > 0
                         ? souk_cfg->promotion_day_seconds
                         : 86400) * 1000000;
}

static int enqueue(struct db_conn *c, const char *kind, const char *id, int attempt,
                   int64_t run_at, struct souk_errinfo *ei)
{
    char key[128];
    json_t *p = json_pack("{s:s, s:i}", "promotion_id", id, "attempt", attempt);
    int err;

    snprintf(key, sizeof key, "%s:%s:%d", kind, id, attempt);
    err = job_enqueue(c, kind, p, run_at, key, NULL, ei);
    json_decref(p);
    return err;
}

/* ---- the checkout ------------------------------------------------------------------------- */

static void spec_fill(struct arena *a, const struct promotion *p, struct checkout_spec *s)
{
    s->mode = "payment";
    s->unit_amount = p->price;
    s->quantity = 1;
    s->currency = arena_strdup(a, p->currency);
    s->product_name = arena_sprintf(a, "%s promotion", p->product);
    s->success_path = arena_sprintf(a, "/api/promotions/%s/", p->id);
    s->cancel_path = s->success_path;
    s->attempt = p->attempt;
}

int promo_checkout_create(struct db_conn *c, struct arena *a, struct promotion *p,
                          struct checkout_session *cs, struct souk_errinfo *ei)
{
    struct checkout_spec s = {.purpose = PURPOSE, .object_id = p->id, .user_id = p->owner_id};
    int err;

    spec_fill(a, p, &s);
    if ((err = payments_checkout_create(c, &s, cs, ei)))
        return err;
    snprintf(p->payment_id, sizeof p->payment_id, "%s", cs->payment_id);
    err = db_exec(c, "UPDATE promotions SET payment_id = $2 WHERE id = $1",
                  DB_PARAMS(DBT(p->id), DBT(cs->payment_id)), NULL, ei);
    return err ? err : enqueue(c, JOB_CHECKOUT_EXPIRE, p->id, p->attempt, cs->expires_at, ei);
}

static int record_url(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct promotion *p = arg;
    return db_exec(c, "UPDATE promotions SET checkout_url = $2 WHERE id = $1",
                   DB_PARAMS(DBT(p->id), DBT(p->checkout_url)), NULL, ei);
}

int promo_checkout_open(struct db *db, struct arena *a, struct promotion *p,
                        struct checkout_session *cs, struct souk_errinfo *ei)
{
    int err = payments_checkout_open(db, cs, ei);

    if (err)
        return err;
    p->checkout_url = arena_strdup(a, cs->url);
    return db_run(db, record_url, p, ei);
}

/* ---- coverage ------------------------------------------------------------------------------- */

/* End of the target's unbroken coverage by `product` after `from` (0: none).
 * Promotions chain (each starts where the last ended), so it is the latest
 * end among the active ones still running. */
static int coverage_end(struct db_conn *c, const char *target_id, const char *product,
                        int64_t from, int64_t *until, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT MAX(ends_at) FROM promotions WHERE target_id = $1 AND product = $2 "
                       "AND status = 'active' AND ends_at > $3",
                       DB_PARAMS(DBT(target_id), DBT(product), DBI(from)), &r, ei);

    if (!err)
        *until = db_int(r, 0, 0);
    db_res_free(r);
    return err;
}

static int coverage_push(struct db_conn *c, const struct promotion *p, struct souk_errinfo *ei)
{
    int64_t until = 0;
    int err = coverage_end(c, p->target_id, p->product, clock_now_us(), &until, ei);

    if (err)
        return err;
    if (!strcmp(p->product, "PRO"))
        return specialist_set_pro_until(c, p->specialist_id, until, ei);
    err = project_set_coverage(c, p->project_id, p->product, until, ei);
    if (err == SOUK_NOT_FOUND) { /* the project is gone: nothing to show it on */
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    }
    return err;
}

static int promo_event(struct db_conn *c, const struct promotion *p, const char *type,
                       struct souk_errinfo *ei)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:I}", "promotion_id", p->id, "product", p->product,
                          "target_id", p->target_id, "ends_at", (json_int_t)p->ends_at);
    int err = notify(c, p->owner_id, type, e, ei);

    json_decref(e);
    return err;
}

/* ---- the purpose ---------------------------------------------------------------------------- */

static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    struct promotion p;
    int err = promo_load(tx, object_id, a, &p, ei);

    (void)body;
    if (!err && strcmp(p.owner_id, user_id) != 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such promotion.");
    if (!err && strcmp(p.status, "pending") != 0)
        err = souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                             "Only a pending promotion can be paid.");
    if (!err) {
        out->object_id = arena_strdup(a, p.id);
        spec_fill(a, &p, out);
    }
    return err;
}

static int activate(struct db_conn *tx, struct promotion *p, const char *payment_id,
                    struct souk_errinfo *ei)
{
    int64_t now = clock_now_us(), start = now, changed = 0;
    int err = coverage_end(tx, p->target_id, p->product, now, &start, ei);

    if (err)
        return err;
    if (start < now)
        start = now;
    p->starts_at = start;
    p->ends_at = start + (int64_t)p->duration_days * day_us();
    err = db_exec(tx,
                  "UPDATE promotions SET status = 'active', starts_at = $2, ends_at = $3, "
                  "paid_payment_id = $4, updated_at = $5 WHERE id = $1 AND status IN "
                  "('pending', 'cancelled')",
                  DB_PARAMS(DBT(p->id), DBI(p->starts_at), DBI(p->ends_at), DBT(payment_id),
                            DBI(now)),
                  &changed, ei);
    if (err || !changed)
        return err;
    snprintf(p->status, sizeof p->status, "active");
    if (!(err = coverage_push(tx, p, ei)) &&
        !(err = enqueue(tx, JOB_EXPIRE, p->id, 0, p->ends_at, ei)))
        err = enqueue(tx, JOB_REMIND, p->id, 0, p->ends_at - day_us(), ei);
    return err ? err : promo_event(tx, p, "promotion.activated", ei);
}

static int on_paid(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct promotion p;
    int err = promo_load(tx, ev->object_id, a, &p, ei);

    if (err == SOUK_NOT_FOUND) {
        log_warn("payment %s: %s for unknown promotion", ev->payment_id, ev->type);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    } else if (!err) {
        err = activate(tx, &p, ev->payment_id, ei);
    }
    arena_free(a);
    return err;
}

static int cancel_pending(struct db_conn *tx, const char *id, const char *payment_id,
                          struct souk_errinfo *ei)
{
    return db_exec(tx,
                   "UPDATE promotions SET status = 'cancelled', updated_at = $3 WHERE id = $1 AND "
                   "status = 'pending' AND payment_id = $2",
                   DB_PARAMS(DBT(id), DBT(payment_id), DBI(clock_now_us())), NULL, ei);
}

static int on_expired(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    if (!ev->object_id || !ev->payment_id)
        return 0;
    return cancel_pending(tx, ev->object_id, ev->payment_id, ei);
}

/* A checkout opened late (its first open timed out): the URL onto the
 * promotion while it still waits for this payment. */
static int on_opened(struct db_conn *tx, const struct checkout_session *cs,
                     struct souk_errinfo *ei)
{
    int64_t changed = 0;
    int err = db_exec(tx,
                      "UPDATE promotions SET checkout_url = $2, updated_at = $3 WHERE "
                      "payment_id = $1 AND status = 'pending'",
                      DB_PARAMS(DBT(cs->payment_id), DBT(cs->url), DBI(clock_now_us())),
                      &changed, ei);
    return err ? err
               : changed ? 0 : souk_fail(ei, SOUK_PRECONDITION, "%s", "promotion not pending");
}

static const struct payment_purpose promotion_purpose = {
    .name = PURPOSE,
    .prepare = prepare,
    .on_paid = on_paid,
    .on_expired = on_expired,
    .on_opened = on_opened,
};

/* ---- jobs ------------------------------------------------------------------------------------ */

struct job_args {
    const char *id;
    struct arena *a;
    struct promotion p;
};

static int expire_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct job_args *x = arg;
    int64_t changed = 0, now = clock_now_us();
    int err = promo_load(tx, x->id, x->a, &x->p, ei);

    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_PRECONDITION, "no such promotion");
    if (!err && x->p.ends_at > now)
        return souk_fail(ei, SOUK_INTERNAL, "not over yet"); /* a clock step: retried later */
    if (!err)
        err = db_exec(tx,
                      "UPDATE promotions SET status = 'expired', updated_at = $2 WHERE id = $1 "
                      "AND status = 'active' AND ends_at <= $2",
                      DB_PARAMS(DBT(x->p.id), DBI(now)), &changed, ei);
    if (err || !changed)
        return err;
    snprintf(x->p.status, sizeof x->p.status, "expired");
    err = coverage_push(tx, &x->p, ei);
    return err ? err : promo_event(tx, &x->p, "promotion.expired", ei);
}

/* A paid promotion of the same target and product that ends later
 * continues this one's coverage. */
static int continued(struct db_conn *tx, const struct promotion *p, int *yes,
                     struct souk_errinfo *ei)
{
    int64_t until = 0;
    int err = coverage_end(tx, p->target_id, p->product, p->ends_at, &until, ei);

    *yes = until > p->ends_at;
    return err;
}

static int remind_mail(struct db_conn *tx, const struct promotion *p, struct souk_errinfo *ei)
{
    char key[96], ends[CLOCK_RFC3339_LEN];
    struct user u;
    json_t *vars;
    int err = users_get(tx, p->owner_id, &u, ei);

    if (err)
        return err;
    clock_format(p->ends_at, ends);
    vars = json_pack("{s:s, s:s, s:s, s:s}", "first_name", u.first_name, "product", p->product,
                     "target", p->project_id[0] ? "your project" : "your profile", "ends_at",
                     ends);
    snprintf(key, sizeof key, "promotion_expiring:%s", p->id);
    err = mail_enqueue(tx, u.email, "promotion_expiring", vars, key, ei);
    json_decref(vars);
    return err;
}

static int remind_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct job_args *x = arg;
    int64_t changed = 0;
    int more = 0, err = promo_load(tx, x->id, x->a, &x->p, ei);

    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_PRECONDITION, "no such promotion");
    if (err || strcmp(x->p.status, "active") != 0 || (err = continued(tx, &x->p, &more, ei)) ||
        more)
        return err;
    err = db_exec(tx,
                  "UPDATE promotions SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL",
                  DB_PARAMS(DBT(x->p.id), DBI(clock_now_us())), &changed, ei);
    if (err || !changed)
        return err;
    err = remind_mail(tx, &x->p, ei);
    return err ? err : promo_event(tx, &x->p, "promotion.expiring", ei);
}

static int checkout_expire_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct job_args *x = arg;
    int err = promo_load(tx, x->id, x->a, &x->p, ei);

    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_PRECONDITION, "no such promotion");
    return err ? err : cancel_pending(tx, x->p.id, x->p.payment_id, ei);
}

static int run_job(struct db *db, const struct job *job, db_tx_fn fn, struct souk_errinfo *ei)
{
    struct job_args x = {
        .id = json_string_value(json_object_get(job->payload, "promotion_id")),
        .a = arena_new(0),
    };
    int err = x.id ? db_tx_run(db, fn, &x, ei) : souk_fail(ei, SOUK_PRECONDITION, "bad payload");

    arena_free(x.a);
    return err;
}

static int job_expire(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    return run_job(db, job, expire_tx, ei);
}

static int job_remind(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    return run_job(db, job, remind_tx, ei);
}

static int job_checkout_expire(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    return run_job(db, job, checkout_expire_tx, ei);
}

int promotions_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    payments_register_purpose(&promotion_purpose);
    promotions_userdata_register();
    job_register(JOB_EXPIRE, job_expire, 10);
    job_register(JOB_REMIND, job_remind, 10);
    job_register(JOB_CHECKOUT_EXPIRE, job_checkout_expire, 10);
    return 0;
}
