/* purpose.c - the "subscription" payment purpose: checkout (Stripe mode
 * subscription, a recurring price from the plan's interval) and what the
 * provider's events do to a subscription.
 *
 *   on_paid          first payment: incomplete -> active (period from the
 *                    event, else one interval from now); renewal (invoice.paid):
 *                    the new period from the invoice, past_due -> active, a
 *                    pending downgrade applies
 *   on_failed        a failed renewal: active -> past_due, grace_until =
 *                    period end + SOUK_GRACE_SECONDS (a declined first payment
 *                    changes nothing: the checkout stays open)
 *   on_expired       the first checkout expired: incomplete -> expired
 *   on_subscription  customer.subscription.*: activation, a later period,
 *                    past_due, the end (canceled; expired when it was past_due
 *                    or never paid), and the cancel flag when the event is
 *                    newer than souk's own last change of it
 *
 * Late or out-of-order events never bring back an ended subscription
 * (canceled/expired are final) and never move a period end backwards.
 * Callbacks run inside the webhook's transaction (payments.h).
 *
 * A stray payment - money for a subscription that can no longer take it
 * (an incomplete one replaced by a new subscribe, whose old checkout was
 * paid anyway; one that expired or was canceled) - is noted once per
 * payment in subscription_events ("stray payment <payment> (<sub_...>)") and
 * undone by the job subscriptions.stray_payment (unique per payment, like
 * orders' order.refund_late):
 *   1. the provider subscription it created is canceled
 *      (DELETE /v1/subscriptions/{id}; gone already counts as done), so it
 *      never renews;
 *   2. when the subscription never started (the money paid for nothing),
 *      the payment is refunded with payments_refund. Subscription-mode
 *      payments often have no payment intent to refund: the sandbox models
 *      a subscription's invoices without payment intent or charge, and
 *      Stripe's current API no longer puts one on the invoice. Then there
 *      is nothing payments_refund can refund, and step 1 is all that
 *      happens; the note says so. A late renewal of a subscription that
 *      had run is never refunded this way (the payments row is the first
 *      checkout's, not the renewal's): step 1 only.
 * The outcome is noted too ("stray payment <payment>: ..."), once.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "subscriptions/internal.h"

#define PURPOSE "subscription"
#define JOB_STRAY "subscriptions.stray_payment"

/* Strings are copied into `a`: s may be a caller's local. */
static void fill_spec(const struct subscription *s, struct arena *a, struct checkout_spec *o)
{
    o->purpose = PURPOSE;
    o->object_id = arena_strdup(a, s->id);
    o->user_id = arena_strdup(a, s->user_id);
    o->mode = "subscription";
    o->unit_amount = s->plan_price;
    o->currency = arena_strdup(a, s->plan_currency);
    o->interval = arena_strdup(a, s->plan_interval);
    o->product_name = arena_sprintf(a, "Subscription: %s", s->plan_name ? s->plan_name : "");
}

int subs_checkout_spec_tx(struct db_conn *tx, const struct subscription *s, struct arena *a,
                          struct checkout_session *cs, struct souk_errinfo *ei)
{
    struct checkout_spec spec = {0};

    fill_spec(s, a, &spec);
    return payments_checkout_create(tx, &spec, cs, ei);
}

/* POST /api/payments/checkout/ {"purpose": "subscription", "id": <subscription id>}:
 * the (same) checkout of the caller's incomplete subscription. */
static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    struct subscription s;
    int err = subs_load(tx, object_id, 0, a, &s, ei);

    (void)body;
    if (!err && strcmp(s.user_id, user_id))
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such subscription.");
    if (!err && strcmp(s.status, "incomplete"))
        err = souk_fail(ei, SOUK_PRECONDITION, "This subscription is not awaiting payment.");
    if (!err)
        fill_spec(&s, a, out);
    return err;
}

/* ---- events ------------------------------------------------------------------------- */

struct evx {
    struct arena *a;
    struct subscription before, s;
    struct subs_cause why;
};

/* Loads the subscription of the event, locked; 1 when there is none. */
static int ev_begin(struct db_conn *tx, const struct payment_event *ev, struct evx *x,
                    struct souk_errinfo *ei)
{
    int err;

    x->a = arena_new(0);
    x->why.cause = arena_sprintf(x->a, "webhook:%s", ev->type ? ev->type : "?");
    x->why.event_id = ev->event_id;
    err = subs_load(tx, ev->object_id ? ev->object_id : "", 1, x->a, &x->s, ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return 1;
    }
    x->before = x->s;
    return err;
}

/* After ev_begin failed: 1 (no such subscription) is not an error. */
static int ev_skip(struct evx *x, int err)
{
    arena_free(x->a);
    return err == 1 ? 0 : err;
}

static int differs(const struct subscription *a, const struct subscription *b)
{
    return strcmp(a->status, b->status) || a->cancel_at_period_end != b->cancel_at_period_end ||
           a->current_period_start != b->current_period_start ||
           a->current_period_end != b->current_period_end || a->grace_until != b->grace_until ||
           strcmp(a->plan_id, b->plan_id) || strcmp(a->pending_plan_id, b->pending_plan_id) ||
           strcmp(a->provider_id ? a->provider_id : "", b->provider_id ? b->provider_id : "");
}

/* Commits when something changed; frees the arena. */
static int ev_end(struct db_conn *tx, struct evx *x, int err, struct souk_errinfo *ei)
{
    if (!err && differs(&x->before, &x->s))
        err = subs_commit_change(tx, x->before.status, &x->s, &x->why, x->a, ei);
    arena_free(x->a);
    return err;
}

static void learn_provider_id(struct evx *x, const struct payment_event *ev)
{
    if (ev->subscription && (!x->s.provider_id || !*x->s.provider_id))
        x->s.provider_id = arena_strdup(x->a, ev->subscription);
}

/* ---- stray payments ---------------------------------------------------------------- */

/* *seen: the subscription's events already hold a line with this detail. */
static int noted(struct db_conn *tx, const char *sub_id, const char *detail, int *seen,
                 struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(tx,
                       "SELECT 1 FROM subscription_events WHERE subscription_id = $1 AND "
                       "detail = $2",
                       DB_PARAMS(DBT(sub_id), DBT(detail)), &res, ei);

    *seen = !err && db_nrows(res) > 0;
    db_res_free(res);
    return err;
}

/* Paid, but the subscription has ended: note it and schedule the undoing,
 * once per payment (the first event of the payment that names its provider
 * subscription; invoice.paid and checkout.session.completed both do). */
static int stray_paid(struct db_conn *tx, struct evx *x, const struct payment_event *ev,
                      struct souk_errinfo *ei)
{
    const char *note;
    char key[160];
    json_t *p;
    int seen = 0, err;

    if (!ev->payment_id || !ev->subscription)
        return 0;
    note = arena_sprintf(x->a, "stray payment %s (%s)", ev->payment_id, ev->subscription);
    if ((err = noted(tx, x->s.id, note, &seen, ei)) || seen)
        return err;
    x->why.detail = note;
    if ((err = subs_commit_change(tx, x->s.status, &x->s, &x->why, x->a, ei)))
        return err;
    p = json_pack("{s:s, s:s, s:s, s:b}", "id", x->s.id, "payment_id", ev->payment_id,
                  "provider_subscription", ev->subscription, "refund",
                  x->s.current_period_start == 0);
    snprintf(key, sizeof key, "%s:%s", JOB_STRAY, ev->payment_id);
    err = job_enqueue(tx, JOB_STRAY, p, 0, key, NULL, ei);
    json_decref(p);
    return err;
}

struct stray {
    const char *id, *payment_id, *provider_sub;
    const char *outcome;
};

static int stray_done_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct stray *st = arg;
    struct arena *a = arena_new(0);
    struct subs_cause why = {"job:stray_payment", NULL, NULL, NULL};
    struct subscription s;
    int seen = 0, err = subs_load(tx, st->id, 1, a, &s, ei);

    why.detail = arena_sprintf(a, "stray payment %s: %s", st->payment_id, st->outcome);
    if (!err)
        err = noted(tx, s.id, why.detail, &seen, ei);
    if (!err && !seen)
        err = subs_commit_change(tx, s.status, &s, &why, a, ei);
    arena_free(a);
    return err == SOUK_NOT_FOUND ? 0 : err;
}

/* Clears an error that means "already so" (err == expected). */
static int already(int err, int expected, struct souk_errinfo *ei)
{
    if (err != expected)
        return err;
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof *ei);
    return 0;
}

/* subscriptions.stray_payment: cancel the provider subscription, refund
 * what can be refunded, note the outcome. Every step is idempotent, so a
 * retry after a partial run converges. */
static int job_stray(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const json_t *pl = job->payload;
    struct stray st = {json_string_value(json_object_get(pl, "id")),
                       json_string_value(json_object_get(pl, "payment_id")),
                       json_string_value(json_object_get(pl, "provider_subscription")), NULL};
    int refund = json_is_true(json_object_get(pl, "refund")), err;

    if (!st.id || !st.payment_id || !st.provider_sub)
        return souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    err = already(payments_subscription_cancel(st.provider_sub, NULL, ei), SOUK_NOT_FOUND, ei);
    if (err)
        return err;
    st.outcome = "provider subscription canceled, no refund (a renewal of a subscription "
                 "that had run)";
    if (refund) {
        err = payments_refund(db, st.payment_id, 0, "duplicate", ei);
        st.outcome = "provider subscription canceled, payment refunded";
        if (err == SOUK_PRECONDITION) /* no payment intent, or refunded already */
            st.outcome = "provider subscription canceled, nothing left to refund (no "
                         "refundable charge, or refunded already)";
        if ((err = already(err, SOUK_PRECONDITION, ei)))
            return err;
    }
    return db_tx_run(db, stray_done_tx, &st, ei);
}

/* ---- paid ---------------------------------------------------------------------------- */

static int on_paid(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    struct evx x = {0};
    int err = ev_begin(tx, ev, &x, ei);

    if (err)
        return ev_skip(&x, err);
    if (subs_is_final(&x.s)) /* never resurrected: the money goes back */
        return ev_end(tx, &x, stray_paid(tx, &x, ev, ei), ei);
    learn_provider_id(&x, ev);
    if (!strcmp(x.s.status, "incomplete")) {
        subs_activate(&x.s, ev->period_start ? ev->period_start : ev->created, ev->period_end);
        x.why.detail = "first payment";
    } else if (ev->period_end || !strcmp(x.s.status, "past_due")) {
        int64_t end = ev->period_end;
        if (!end && ev->billing_reason && !strcmp(ev->billing_reason, "subscription_cycle"))
            end = x.s.current_period_end + subs_interval_us(x.s.plan_interval);
        subs_renew(&x.s, ev->period_start, end);
        x.why.detail = "renewal paid";
    }
    return ev_end(tx, &x, 0, ei);
}

static int on_failed(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    struct evx x = {0};
    int err = ev_begin(tx, ev, &x, ei);

    if (err)
        return ev_skip(&x, err);
    learn_provider_id(&x, ev);
    if (!strcmp(x.s.status, "active")) {
        subs_past_due(&x.s);
        x.why.detail = ev->failure_message ? ev->failure_message : "renewal payment failed";
    }
    return ev_end(tx, &x, 0, ei);
}

static int on_expired(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    struct evx x = {0};
    int err = ev_begin(tx, ev, &x, ei);

    if (err)
        return ev_skip(&x, err);
    if (!strcmp(x.s.status, "incomplete") && x.s.payment_id && ev->payment_id &&
        !strcmp(x.s.payment_id, ev->payment_id)) {
        subs_end(&x.s, "expired");
        x.why.detail = "checkout expired unpaid";
    }
    return ev_end(tx, &x, 0, ei);
}

static int is(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static void apply_provider_state(struct evx *x, const struct payment_event *ev)
{
    struct subscription *s = &x->s;
    const char *st = ev->status;

    if (is(st, "active") || is(st, "trialing")) {
        if (!strcmp(s->status, "incomplete"))
            subs_activate(s, ev->period_start ? ev->period_start : ev->created, ev->period_end);
        else if (ev->period_end > s->current_period_end)
            subs_renew(s, ev->period_start, ev->period_end);
        if (ev->created > s->cancel_set_at && strcmp(s->status, "incomplete"))
            s->cancel_at_period_end = ev->cancel_at_period_end;
    } else if (is(st, "past_due") || is(st, "unpaid")) {
        if (!strcmp(s->status, "active"))
            subs_past_due(s);
    } else if (is(st, "canceled") || is(st, "incomplete_expired")) {
        subs_end(s, !strcmp(s->status, "active") ? "canceled" : "expired");
    }
}

static int on_subscription(struct db_conn *tx, const struct payment_event *ev,
                           struct souk_errinfo *ei)
{
    struct evx x = {0};
    int err = ev_begin(tx, ev, &x, ei);

    if (err)
        return ev_skip(&x, err);
    if (subs_is_final(&x.s))
        return ev_end(tx, &x, 0, ei);
    learn_provider_id(&x, ev);
    apply_provider_state(&x, ev);
    x.why.detail = ev->status;
    return ev_end(tx, &x, 0, ei);
}

/* A checkout opened late (its first open timed out): the URL onto the
 * subscription while it is still incomplete with this payment. */
static int on_opened(struct db_conn *tx, const struct checkout_session *cs,
                     struct souk_errinfo *ei)
{
    int64_t changed = 0;
    int err = db_exec(tx,
                      "UPDATE subscriptions SET checkout_url = $2, updated_at = $3 WHERE "
                      "payment_id = $1 AND status = 'incomplete'",
                      DB_PARAMS(DBT(cs->payment_id), DBT(cs->url), DBI(clock_now_us())),
                      &changed, ei);
    return err ? err
               : changed ? 0
                         : souk_fail(ei, SOUK_PRECONDITION, "%s", "subscription not incomplete");
}

static const struct payment_purpose subscription_purpose = {
    .name = PURPOSE,
    .prepare = prepare,
    .on_paid = on_paid,
    .on_failed = on_failed,
    .on_expired = on_expired,
    .on_subscription = on_subscription,
    .on_opened = on_opened,
};

void subs_purpose_register(void)
{
    payments_register_purpose(&subscription_purpose);
    job_register_provider(JOB_STRAY, job_stray, 10);
}
