/* webhooks.c - verified Stripe events into the inbox, then applied once.
 *
 * A delivery is handled in the request, quickly:
 *   1. the Stripe-Signature is verified on the raw body (signature.c);
 *   2. one transaction inserts the event into payment_events, keyed by its
 *      id (a duplicate, even a concurrent one, hits the primary key and is
 *      answered 200 with no effect), matches it to the payments row we
 *      recorded when we created the session, checks amount and currency,
 *      and applies it: payment status, ledger, and the purpose's callback
 *      (which enqueues any slow work as jobs in the same transaction);
 *   3. the outcome is kept on the inbox row: applied, ignored (a type we do
 *      not handle), review (unmatched or mismatched: no state change, shown
 *      at GET /api/admin/payments/events/), stale (older than what we
 *      already applied) or failed (the transaction failed: the row is kept
 *      and the job "payments.apply_event" retries it).
 *
 * The answer to the provider is 200 for every verified event, failed ones
 * included: the inbox row and its job make the retry durable, so a provider
 * redelivery is not needed (and is answered "duplicate").
 *
 * Test hook: with SOUK_TEST_PAYMENTS=1 and SOUK_TEST_FAIL_APPLY=1 the first
 * apply of every event fails with SOUK_INTERNAL at the end of its
 * transaction (after the effects were written, before the commit); the job
 * applies it later. Tests use it to see that nothing is half-applied.
 *
 * Order: payment statuses only move forward (pending -> succeeded|failed|
 * expired, failed -> succeeded, succeeded -> refunded), and per provider
 * object (a subscription, its invoices) the creation time of the newest
 * applied event is kept in payment_objects: an older event is stale.
 *
 * Thread safety: no shared state but the test hook's flag (set at start-up,
 * read-only afterwards); concurrency is the database's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "payments/internal.h"

#define JOB_APPLY "payments.apply_event"

static int test_fail_apply; /* SOUK_TEST_FAIL_APPLY, see above */

void webhooks_test_fail_apply(int on)
{
    test_fail_apply = on;
}

/* One event being applied. */
struct apply {
    const json_t *event;
    const char *payload;          /* raw body */
    struct payment_event ev;
    const char *type;
    struct payment_row row;
    int have_row;
    int retrying;                 /* re-applying a failed inbox row (job) */
    enum webhook_outcome outcome;
    const char *reason;           /* for review/stale/ignored */
};

const char *webhook_outcome_str(enum webhook_outcome o)
{
    static const char *const s[] = {"applied", "duplicate", "ignored", "review", "stale", "failed"};
    return (unsigned)o < sizeof s / sizeof s[0] ? s[o] : "?";
}

/* ---- reading events --------------------------------------------------------- */

static const char *str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_object(v)) /* an expanded object: its id */
        v = json_object_get(v, "id");
    return json_string_value(v);
}

static int64_t num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const json_t *path(const json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

static const json_t *path3(const json_t *o, const char *a, const char *b, const char *c)
{
    return json_object_get(path(o, a, b), c);
}

static int64_t first_item_period(const json_t *o, const char *field)
{
    const json_t *it = json_array_get(path(o, "items", "data"), 0);
    const json_t *v = json_object_get(it, field);
    if (!json_is_integer(v)) /* before 2025-03-31.basil: on the subscription */
        v = json_object_get(o, field);
    return json_integer_value(v) * 1000000;
}

static void read_session(const json_t *o, struct payment_event *ev)
{
    ev->session_id = str(o, "id");
    ev->payment_intent = str(o, "payment_intent");
    ev->subscription = str(o, "subscription");
    ev->invoice = str(o, "invoice");
    ev->customer = str(o, "customer");
    ev->amount = num(o, "amount_total");
    ev->mode = str(o, "mode");
    ev->status = str(o, "payment_status");
}

static void read_intent(const json_t *o, struct payment_event *ev)
{
    ev->payment_intent = str(o, "id");
    ev->amount = num(o, "amount_received") ? num(o, "amount_received") : num(o, "amount");
    ev->charge = str(o, "latest_charge");
    ev->customer = str(o, "customer");
    ev->status = str(o, "status");
    ev->failure_message = json_string_value(path(o, "last_payment_error", "message"));
}

static void read_invoice(const json_t *o, struct payment_event *ev)
{
    const json_t *details = path(o, "parent", "subscription_details");
    const json_t *period = json_object_get(json_array_get(path(o, "lines", "data"), 0), "period");

    ev->invoice = str(o, "id");
    ev->subscription = str(details, "subscription");
    if (!ev->subscription) /* before 2025-03-31.basil */
        ev->subscription = str(o, "subscription");
    ev->payment_intent = str(o, "payment_intent");
    ev->customer = str(o, "customer");
    ev->status = str(o, "status");
    ev->billing_reason = str(o, "billing_reason");
    ev->attempt_count = (int)num(o, "attempt_count");
    ev->next_attempt = num(o, "next_payment_attempt") * 1000000;
    ev->period_start = num(period, "start") * 1000000;
    ev->period_end = num(period, "end") * 1000000;
    ev->amount = num(o, "amount_paid") ? num(o, "amount_paid") : num(o, "amount_due");
}

static void read_subscription(const json_t *o, struct payment_event *ev)
{
    ev->subscription = str(o, "id");
    ev->customer = str(o, "customer");
    ev->status = str(o, "status");
    ev->cancel_at_period_end = json_is_true(json_object_get(o, "cancel_at_period_end"));
    ev->period_start = first_item_period(o, "current_period_start");
    ev->period_end = first_item_period(o, "current_period_end");
    ev->currency = json_string_value(
        path(json_array_get(path(o, "items", "data"), 0), "price", "currency"));
    if (!ev->currency)
        ev->currency = json_string_value(json_object_get(o, "currency"));
}

static void read_charge(const json_t *o, struct payment_event *ev)
{
    ev->charge = str(o, "id");
    ev->payment_intent = str(o, "payment_intent");
    ev->amount = num(o, "amount");
    ev->amount_refunded = num(o, "amount_refunded");
    ev->fully_refunded = json_is_true(json_object_get(o, "refunded"));
    ev->status = str(o, "status");
}

/* Our payment id as the provider echoes it: metadata, or the invoice's
 * subscription details. Used only to find a row that is then checked. */
static const char *metadata_payment_id(const json_t *o)
{
    const char *id = json_string_value(path(o, "metadata", "souk_payment_id"));
    if (!id)
        id = json_string_value(
            json_object_get(path3(o, "parent", "subscription_details", "metadata"),
                            "souk_payment_id"));
    return id;
}

int webhook_event_read(const json_t *event, struct payment_event *ev, const char **type)
{
    const json_t *o = path(event, "data", "object");
    const char *kind = json_string_value(json_object_get(o, "object"));

    memset(ev, 0, sizeof *ev);
    ev->event_id = json_string_value(json_object_get(event, "id"));
    *type = ev->type = json_string_value(json_object_get(event, "type"));
    if (!json_is_object(event) || !ev->event_id || !*ev->event_id ||
        strlen(ev->event_id) > 255 || !ev->type || !json_is_object(o) || !kind ||
        !json_is_integer(json_object_get(event, "created")))
        return SOUK_INVALID;
    ev->created = num(event, "created") * 1000000;
    ev->object = o;
    ev->currency = str(o, "currency");
    if (strcmp(kind, "checkout.session") == 0)
        read_session(o, ev);
    else if (strcmp(kind, "payment_intent") == 0)
        read_intent(o, ev);
    else if (strcmp(kind, "invoice") == 0)
        read_invoice(o, ev);
    else if (strcmp(kind, "subscription") == 0)
        read_subscription(o, ev);
    else if (strcmp(kind, "charge") == 0)
        read_charge(o, ev);
    return 0;
}

/* ---- matching ------------------------------------------------------------------ */

static int review(struct apply *a, const char *reason)
{
    a->outcome = WEBHOOK_REVIEW;
    a->reason = reason;
    return 0;
}

/* Finds our row through a provider id column, else through the metadata id
 * (then the row must be one whose session we recorded, of the right mode,
 * not already bound to another provider object). */
static int match_by(struct db_conn *tx, struct apply *a, const char *column, const char *value,
                    struct souk_errinfo *ei)
{
    const char *mid = metadata_payment_id(a->ev.object);
    int err = payment_row_find(tx, column, value, &a->row, ei);
    const char *bound;

    if (err == 0) {
        a->have_row = 1;
        return 0;
    }
    if (err != SOUK_NOT_FOUND)
        return err;
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof *ei);
    if (!mid || payment_row_find(tx, "id", mid, &a->row, ei)) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return review(a, "unmatched");
    }
    a->have_row = 1;
    bound = strcmp(column, "payment_intent") == 0 ? a->row.payment_intent : a->row.subscription_id;
    if (!a->row.session_id[0] || (bound[0] && strcmp(bound, value ? value : "")))
        return review(a, "unmatched");
    return 0;
}

static int match(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const char *kind = json_string_value(json_object_get(a->ev.object, "object"));
    int err;

    if (strcmp(kind, "checkout.session") == 0) {
        err = payment_row_find(tx, "session_id", a->ev.session_id, &a->row, ei);
        if (err == SOUK_NOT_FOUND) {
            souk_errinfo_cleanup(ei);
            memset(ei, 0, sizeof *ei);
            return review(a, "unmatched");
        }
        a->have_row = err == 0;
        return err;
    }
    if (strcmp(kind, "invoice") == 0 || strcmp(kind, "subscription") == 0)
        return match_by(tx, a, "subscription_id", a->ev.subscription, ei);
    return match_by(tx, a, "payment_intent", a->ev.payment_intent, ei);
}

/* Amount and currency against what we asked for. */
static int check_amounts(struct apply *a)
{
    const char *t = a->type;
    int amount_fixed = strncmp(t, "checkout.session.", 17) == 0 ||
                       (strncmp(t, "payment_intent.", 15) == 0) ||
                       strcmp(t, "charge.refunded") == 0 ||
                       (strncmp(t, "invoice.", 8) == 0 && a->ev.billing_reason &&
                        strcmp(a->ev.billing_reason, "subscription_create") == 0);

    if (a->ev.currency && strcmp(a->ev.currency, a->row.currency))
        return review(a, "currency_mismatch");
    if (!a->ev.currency && strncmp(t, "customer.subscription.", 22))
        return review(a, "currency_mismatch");
    if (strcmp(t, "checkout.session.expired") == 0)
        amount_fixed = 0;
    if (amount_fixed && a->ev.amount != a->row.amount)
        return review(a, "amount_mismatch");
    return 0;
}

/* ---- effects -------------------------------------------------------------------- */

static int bind_ids(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    return db_exec(tx,
                   "UPDATE payments SET payment_intent = COALESCE(payment_intent, $2), "
                   "subscription_id = COALESCE(subscription_id, $3), "
                   "customer_id = COALESCE(customer_id, $4), updated_at = $5 WHERE id = $1",
                   DB_PARAMS(DBT(a->row.id), DBT(a->ev.payment_intent), DBT(a->ev.subscription),
                             DBT(a->ev.customer), DBI(clock_now_us())),
                   NULL, ei);
}

/* Moves the status forward; *moved = 1 when it changed. */
static int set_status(struct db_conn *tx, struct apply *a, const char *to, const char *from_sql,
                      int *moved, struct souk_errinfo *ei)
{
    char sql[256];
    int64_t n = 0;
    int err;

    snprintf(sql, sizeof sql,
             "UPDATE payments SET status = $2, status_event_at = $3, updated_at = $4 "
             "WHERE id = $1 AND status IN (%s)", from_sql);
    err = db_exec(tx, sql, DB_PARAMS(DBT(a->row.id), DBT(to), DBI(a->ev.created),
                                     DBI(clock_now_us())), &n, ei);
    *moved = n == 1;
    return err;
}

static void fill_event(struct apply *a)
{
    a->ev.payment_id = a->row.id;
    a->ev.purpose = a->row.purpose;
    a->ev.object_id = a->row.object_id;
    a->ev.user_id = a->row.user_id[0] ? a->row.user_id : NULL;
    if (!a->ev.mode)
        a->ev.mode = a->row.mode;
    if (!a->ev.currency)
        a->ev.currency = a->row.currency;
}

static int notify_user(struct db_conn *tx, struct apply *a, const char *type,
                       struct souk_errinfo *ei)
{
    json_t *p;
    int err;

    if (!a->ev.user_id)
        return 0;
    p = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "payment_id", a->row.id, "purpose",
                  a->row.purpose, "object_id", a->row.object_id, "amount",
                  (json_int_t)a->ev.amount, "currency", a->ev.currency, "event", a->type);
    err = notify(tx, a->ev.user_id, type, p, ei);
    json_decref(p);
    return err;
}

static int call(struct db_conn *tx, struct apply *a, payment_event_fn fn, struct souk_errinfo *ei)
{
    return fn ? fn(tx, &a->ev, ei) : 0;
}

/* The audit entry of a confirmed charge applied to its object (a money
 * change; API.md: payment.applied), in the transaction that applies it. */
static int audit_paid(struct db_conn *tx, const struct apply *a, struct souk_errinfo *ei)
{
    json_t *before = json_pack("{s:s}", "payment_status", a->row.status);
    json_t *after = json_pack("{s:s, s:s, s:o, s:s, s:s}", "payment_status", "succeeded",
                              "payment_id", a->row.id, "amount", money_to_json(a->ev.amount),
                              "currency", a->ev.currency ? a->ev.currency : "", "event", a->type);
    int err = audit_record(tx, &(struct audit_actor){NULL, NULL}, "payment.applied",
                           a->row.purpose, a->row.object_id, before, after, NULL, ei);

    json_decref(before);
    json_decref(after);
    return err;
}

/* A charge (first payment or a renewal invoice): ledger once, then the purpose. */
static int on_paid(struct db_conn *tx, struct apply *a, const char *charge_id,
                   struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(a->row.purpose);
    int64_t added = 0;
    int moved = 0, err;

    /* expired too: money the provider says it took outweighs our expiry */
    if ((err = set_status(tx, a, "succeeded", "'pending', 'failed', 'expired'", &moved, ei)))
        return err;
    if ((err = payments_ledger_add(tx, a->row.id, "charge", charge_id, a->ev.amount,
                                   a->ev.currency, "succeeded", &added, ei)))
        return err;
    if (!added && !moved) {
        a->reason = "already_applied";
        return 0;
    }
    if ((err = call(tx, a, pp ? pp->on_paid : NULL, ei)))
        return err;
    if ((!pp || !pp->audits_paid) && (err = audit_paid(tx, a, ei)))
        return err;
    return notify_user(tx, a, "payment.succeeded", ei);
}

static int on_failed(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(a->row.purpose);
    int moved = 0, err;

    if ((!strcmp(a->row.status, "succeeded") || !strcmp(a->row.status, "refunded")) &&
        strncmp(a->type, "invoice.", 8)) {
        a->outcome = WEBHOOK_STALE; /* a newer success already stands */
        a->reason = "payment_already_succeeded";
        return 0;
    }
    if ((err = set_status(tx, a, "failed", "'pending'", &moved, ei)))
        return err;
    if ((err = payments_ledger_add(tx, a->row.id, "failure", a->ev.event_id, a->ev.amount,
                                   a->ev.currency, "failed", NULL, ei)))
        return err;
    if ((err = call(tx, a, pp ? pp->on_failed : NULL, ei)))
        return err;
    return notify_user(tx, a, "payment.failed", ei);
}

/* Keeps the newest event per provider object; 1 in *stale for an older one. */
static int order_check(struct db_conn *tx, struct apply *a, const char *key, int *stale,
                       struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err = db_exec(tx,
                      "INSERT INTO payment_objects (provider_id, payment_id, last_event_at, "
                      "last_event_id, status) VALUES ($1, $2, $3, $4, $5) "
                      "ON CONFLICT (provider_id) DO UPDATE SET last_event_at = "
                      "excluded.last_event_at, last_event_id = excluded.last_event_id, "
                      "status = excluded.status "
                      "WHERE payment_objects.last_event_at <= excluded.last_event_at",
                      DB_PARAMS(DBT(key), DBT(a->row.id), DBI(a->ev.created),
                                DBT(a->ev.event_id), DBT(a->ev.status)),
                      &n, ei);
    *stale = !err && n == 0;
    if (*stale) {
        a->outcome = WEBHOOK_STALE;
        a->reason = "older_than_applied";
    }
    return err;
}

/* ---- per type ------------------------------------------------------------------ */

static int h_session_completed(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const char *ps = a->ev.status;
    const char *charge = a->ev.invoice ? a->ev.invoice
                                       : a->ev.payment_intent ? a->ev.payment_intent
                                                              : a->ev.session_id;

    if (strcmp(a->type, "checkout.session.async_payment_failed") == 0)
        return on_failed(tx, a, ei);
    if (!ps || strcmp(ps, "paid")) {
        a->reason = "awaiting_payment"; /* delayed method: fulfil on async_payment_succeeded */
        return 0;
    }
    return on_paid(tx, a, charge, ei);
}

static int h_session_expired(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(a->row.purpose);
    int moved = 0;
    int err = set_status(tx, a, "expired", "'pending', 'failed'", &moved, ei);

    if (err)
        return err;
    if (!moved) {
        a->outcome = WEBHOOK_STALE;
        a->reason = "payment_not_pending";
        return 0;
    }
    return call(tx, a, pp ? pp->on_expired : NULL, ei);
}

static int h_intent(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    if (strcmp(a->type, "payment_intent.payment_failed") == 0)
        return on_failed(tx, a, ei);
    return on_paid(tx, a, a->ev.payment_intent, ei);
}

static int h_invoice(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    char key[PAYMENTS_ID_MAX + 16];
    int stale = 0, err;

    if (!a->ev.invoice)
        return review(a, "invoice_without_id");
    snprintf(key, sizeof key, "invoices:%s", a->ev.subscription ? a->ev.subscription : "");
    if ((err = order_check(tx, a, key, &stale, ei)) || stale)
        return err;
    if (strcmp(a->type, "invoice.payment_failed") == 0)
        return on_failed(tx, a, ei);
    return on_paid(tx, a, a->ev.invoice, ei);
}

static int h_subscription(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(a->row.purpose);
    int stale = 0, err;

    if ((err = order_check(tx, a, a->ev.subscription, &stale, ei)) || stale)
        return err;
    return call(tx, a, pp ? pp->on_subscription : NULL, ei);
}

/* charge.refunded carries the cumulative amount: only the increase over what
 * we know (refunds we made ourselves are already counted) is new money; see
 * payments_refund_book. */
static int h_refunded(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(a->row.purpose);
    char key[PAYMENTS_ID_MAX + 32];
    int64_t booked = 0;
    int err;

    if (a->ev.amount_refunded > a->row.amount)
        return review(a, "amount_mismatch");
    snprintf(key, sizeof key, "%s:%lld", a->ev.charge ? a->ev.charge : a->ev.event_id,
             (long long)a->ev.amount_refunded);
    err = payments_refund_book(tx, a->row.id, a->ev.amount_refunded, key, a->ev.currency,
                               "succeeded", &booked, ei);
    if (err)
        return err;
    if (booked == 0) {
        a->reason = "already_counted";
        return 0;
    }
    return call(tx, a, pp ? pp->on_refunded : NULL, ei);
}

typedef int (*type_fn)(struct db_conn *, struct apply *, struct souk_errinfo *);
static const struct {
    const char *type;
    type_fn fn;
} handlers[] = {
    {"checkout.session.completed", h_session_completed},
    {"checkout.session.async_payment_succeeded", h_session_completed},
    {"checkout.session.async_payment_failed", h_session_completed},
    {"checkout.session.expired", h_session_expired},
    {"payment_intent.succeeded", h_intent},
    {"payment_intent.payment_failed", h_intent},
    {"invoice.paid", h_invoice},
    {"invoice.payment_succeeded", h_invoice},
    {"invoice.payment_failed", h_invoice},
    {"customer.subscription.created", h_subscription},
    {"customer.subscription.updated", h_subscription},
    {"customer.subscription.deleted", h_subscription},
    {"charge.refunded", h_refunded},
};

static type_fn handler_for(const char *type)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].type, type) == 0)
            return handlers[i].fn;
    return NULL;
}

/* ---- the transaction ---------------------------------------------------------- */

static int inbox_insert(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    int64_t now = clock_now_us(), n = 0;
    int err;

    if (a->retrying) {
        err = db_exec(tx,
                      "UPDATE payment_events SET attempts = attempts + 1, updated_at = $2 "
                      "WHERE event_id = $1 AND status = 'failed'",
                      DB_PARAMS(DBT(a->ev.event_id), DBI(now)), &n, ei);
        if (!err && n == 0)
            a->outcome = WEBHOOK_DUPLICATE; /* applied meanwhile */
        return err;
    }
    err = db_exec(tx,
                  "INSERT INTO payment_events (event_id, type, status, event_created_at, "
                  "payload, received_at, updated_at) VALUES ($1, $2, 'applied', $3, $4, $5, $5)",
                  DB_PARAMS(DBT(a->ev.event_id), DBT(a->type), DBI(a->ev.created),
                            DBT(a->payload), DBI(now)),
                  NULL, ei);
    if (err == SOUK_CONFLICT)
        a->outcome = WEBHOOK_DUPLICATE;
    return err;
}

static int inbox_finish(struct db_conn *tx, struct apply *a, struct souk_errinfo *ei)
{
    const char *obj = a->ev.session_id ? a->ev.session_id
                      : a->ev.subscription ? a->ev.subscription
                      : a->ev.payment_intent ? a->ev.payment_intent
                                             : a->ev.charge;
    return db_exec(tx,
                   "UPDATE payment_events SET status = $2, reason = $3, payment_id = $4, "
                   "provider_object = $5, updated_at = $6 WHERE event_id = $1",
                   DB_PARAMS(DBT(a->ev.event_id), DBT(webhook_outcome_str(a->outcome)),
                             DBT(a->reason), DBT(a->have_row ? a->row.id : NULL), DBT(obj),
                             DBI(clock_now_us())),
                   NULL, ei);
}

static int livemode_ok(const struct apply *a)
{
    int live = json_is_true(json_object_get(a->event, "livemode"));
    return live == (strncmp(stripe_secret_key(), "sk_live_", 8) == 0 ||
                    strncmp(stripe_secret_key(), "rk_live_", 8) == 0);
}

static int apply_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct apply *a = arg;
    type_fn fn = handler_for(a->type);
    int err;

    a->outcome = WEBHOOK_APPLIED;
    a->reason = NULL;
    if (a->have_row)
        payment_row_cleanup(&a->row);
    a->have_row = 0;
    if ((err = inbox_insert(tx, a, ei)) || a->outcome == WEBHOOK_DUPLICATE)
        return err;
    if (!fn) {
        a->outcome = WEBHOOK_IGNORED;
        a->reason = "unhandled_type";
    } else if (!livemode_ok(a)) {
        review(a, "livemode_mismatch");
    } else if (!(err = match(tx, a, ei)) && a->outcome == WEBHOOK_APPLIED &&
               !(err = check_amounts(a)) && a->outcome == WEBHOOK_APPLIED) {
        fill_event(a);
        if (!(err = bind_ids(tx, a, ei)))
            err = fn(tx, a, ei);
    }
    if (!err && test_fail_apply && !a->retrying)
        err = souk_fail(ei, SOUK_INTERNAL, "SOUK_TEST_FAIL_APPLY: first apply fails");
    return err ? err : inbox_finish(tx, a, ei);
}

/* After a failed transaction: keep the event as failed and let a job retry. */
static int park_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct apply *a = arg;
    json_t *p = json_pack("{s:s}", "event_id", a->ev.event_id);
    char key[300];
    int64_t now = clock_now_us();
    int err = 0;

    snprintf(key, sizeof key, "payments.apply:%s", a->ev.event_id);
    if (!a->retrying)
        err = db_exec(tx,
                      "INSERT INTO payment_events (event_id, type, status, reason, "
                      "event_created_at, payload, received_at, updated_at) "
                      "VALUES ($1, $2, 'failed', $3, $4, $5, $6, $6)",
                      DB_PARAMS(DBT(a->ev.event_id), DBT(a->type), DBT(a->reason),
                                DBI(a->ev.created), DBT(a->payload), DBI(now)),
                      NULL, ei);
    if (!err)
        err = job_enqueue(tx, JOB_APPLY, p, now + 5000000, key, NULL, ei);
    json_decref(p);
    return err;
}

static int apply_event(struct db *db, struct apply *a, struct souk_errinfo *ei)
{
    struct souk_errinfo e2 = {0};
    int err = db_tx_run(db, apply_tx, a, ei);

    if (a->have_row)
        payment_row_cleanup(&a->row);
    a->have_row = 0;
    if (a->outcome == WEBHOOK_DUPLICATE)
        return 0;
    if (!err)
        return 0;
    log_json(LOG_WARN, "payment event not applied",
             json_pack("{s:s, s:s, s:s}", "event_id", a->ev.event_id, "type", a->type, "error",
                       ei->detail));
    a->reason = "apply_failed";
    err = db_tx_run(db, park_tx, a, &e2);
    if (err == SOUK_CONFLICT) { /* a concurrent delivery got it in first */
        a->outcome = WEBHOOK_DUPLICATE;
        err = 0;
    } else if (!err) {
        a->outcome = WEBHOOK_DEFERRED;
    }
    souk_errinfo_cleanup(&e2);
    if (!err) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
    }
    return err;
}

int webhook_receive(struct db *db, const char *sig_header, const char *body, size_t len,
                    enum webhook_outcome *outcome, struct souk_errinfo *ei)
{
    enum stripe_sig_result vr = stripe_sig_verify(sig_header, body, len,
                                                  payments_webhook_secret(),
                                                  (int64_t)time(NULL), STRIPE_SIG_TOLERANCE);
    struct apply a = {0};
    json_t *event;
    int err;

    if (vr != STRIPE_SIG_OK)
        return souk_fail_code(ei, SOUK_INVALID, "signature_invalid", "%s", stripe_sig_str(vr));
    event = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!event || webhook_event_read(event, &a.ev, &a.type)) {
        json_decref(event);
        return souk_fail(ei, SOUK_INVALID, "the payload is not a Stripe event");
    }
    a.event = event;
    a.payload = body;
    err = apply_event(db, &a, ei);
    *outcome = a.outcome;
    json_decref(event);
    return err;
}

/* ---- the retry job ---------------------------------------------------------- */

struct load_args {
    const char *event_id;
    char *payload; /* malloc'd */
};

static int load_payload(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct load_args *l = arg;
    struct db_res *r = NULL;
    int err = db_query(c, "SELECT payload FROM payment_events WHERE event_id = $1 AND "
                          "status = 'failed'",
                       DB_PARAMS(DBT(l->event_id)), &r, ei);
    if (!err && db_nrows(r) == 1)
        l->payload = strdup(db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

static int job_apply(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct load_args l = {json_string_value(json_object_get(job->payload, "event_id")), NULL};
    struct apply a = {.retrying = 1};
    json_t *event = NULL;
    int err;

    if (!l.event_id)
        return souk_fail(ei, SOUK_PRECONDITION, "job without event_id");
    if ((err = db_run(db, load_payload, &l, ei)) || !l.payload)
        return err; /* gone or applied meanwhile: done */
    event = json_loads(l.payload, 0, NULL);
    if (!event || webhook_event_read(event, &a.ev, &a.type)) {
        err = souk_fail(ei, SOUK_PRECONDITION, "stored event unreadable");
    } else {
        a.event = event;
        a.payload = l.payload;
        err = db_tx_run(db, apply_tx, &a, ei);
        if (a.have_row)
            payment_row_cleanup(&a.row);
    }
    json_decref(event);
    free(l.payload);
    return err;
}

void webhooks_register_jobs(void)
{
    job_register(JOB_APPLY, job_apply, 10);
}
