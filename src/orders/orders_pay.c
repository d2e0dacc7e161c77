/* orders_pay.c - how orders meet money: the payment purpose "order", the
 * checkout of an order, and the order jobs.
 *
 * Purpose callbacks run inside the transaction that applies a verified
 * webhook event; they only touch the database (provider calls and emails
 * are jobs). What each event does to an order:
 *
 *   paid      pending -> paid (+ job order.paid). Not pending any more
 *             (cancelled, failed, or already paid by another checkout):
 *             the money is refunded by the job order.refund_late, once per
 *             payment, and both facts are written in the history.
 *   failed    a declined card (payment_intent.payment_failed) leaves the
 *             checkout open: history note only. The session reporting the
 *             payment failed after completion (async_payment_failed):
 *             pending -> failed, stock back.
 *   expired   the current checkout expired: pending -> cancelled, stock back.
 *   refunded  charge.refunded of the payment that paid: a paid state ->
 *             refunded (refunds made elsewhere, e.g. the provider's
 *             dashboard); our own refunds already moved the order.
 *
 * Jobs:
 *   order.expire          souk's own clock: the checkout of attempt N is
 *                         past its expiry and the order still pending ->
 *                         cancelled (unique per order and attempt).
 *   order.paid            invoice email (HTML + text), vendor email, then
 *                         paid -> processing (unique per order).
 *   order.refund_late     refunds a payment that arrived for an order that
 *                         could not take it (unique per payment).
 *   order.checkout_expire closes a checkout at the provider that must not
 *                         be paid any more (cancelled order, replaced link).
 *   order.checkout_open   the provider did not answer the checkout create in
 *                         time (unknown outcome): asks again with the same
 *                         idempotency key, with backoff, keeping the order
 *                         pending and its stock held; records the URL once
 *                         the provider answers, or releases the order when it
 *                         refuses. A session it learns of for an order that
 *                         expired meanwhile is closed at the provider.
 *
 * Thread safety: the purpose table is static and read-only.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "orders/orders.h"
#include "payments/payments.h"
#include "users/users.h"

#define JOB_EXPIRE "order.expire"
#define JOB_PAID "order.paid"
#define JOB_REFUND_LATE "order.refund_late"
#define JOB_CHECKOUT_EXPIRE "order.checkout_expire"
#define JOB_CHECKOUT_OPEN "order.checkout_open"
#define CHECKOUT_OPEN_FIRST_US 1000000 /* the first retry, 1 s after the unknown outcome */
#define VENDOR_MAIL_TEMPLATE "order_vendor_paid"

/* ---- the checkout of an order ----------------------------------------------------- */

int orders_checkout_create_tx(struct db_conn *tx, struct order *o, struct souk_errinfo *ei)
{
    char product[512], ok[128], cancel[128], key[96];
    struct checkout_session cs;
    json_t *p;
    int err;

    snprintf(product, sizeof product, "%s - %s", o->service_name, o->variant_name);
    snprintf(ok, sizeof ok, "/api/orders/%s/success/", o->id);
    snprintf(cancel, sizeof cancel, "/api/orders/%s/cancel/", o->id);
    struct checkout_spec spec = {
        .purpose = "order", .object_id = o->id, .user_id = o->customer_id,
        .unit_amount = o->unit_price, .quantity = o->quantity, .currency = o->currency,
        .product_name = product, .customer_email = o->customer_email, .success_path = ok,
        .cancel_path = cancel, .attempt = o->attempt,
    };
    if ((err = payments_checkout_create(tx, &spec, &cs, ei)))
        return err;
    snprintf(o->payment_id, sizeof o->payment_id, "%s", cs.payment_id);
    o->checkout_expires_at = cs.expires_at;
    o->payment_url = NULL;
    err = db_exec_later(tx,
                        "UPDATE orders SET payment_id = $2, checkout_expires_at = $3, "
                        "payment_url = NULL WHERE id = $1",
                        DB_PARAMS(DBT(o->id), DBT(cs.payment_id), DBI(cs.expires_at)), ei);
    if (err)
        return err;
    /* souk's own clock: the order is released at expiry even if the
     * provider's checkout.session.expired never comes. */
    snprintf(key, sizeof key, "%s:%s:%d", JOB_EXPIRE, o->id, o->attempt);
    p = json_pack("{s:s, s:i}", "order_id", o->id, "attempt", o->attempt);
    err = job_enqueue(tx, JOB_EXPIRE, p, cs.expires_at, key, NULL, ei);
    json_decref(p);
    return err;
}

static int record_url(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const struct order *o = arg;
    return db_exec(c,
                   "UPDATE orders SET payment_url = $3, checkout_expires_at = $4 "
                   "WHERE id = $1 AND payment_id = $2",
                   DB_PARAMS(DBT(o->id), DBT(o->payment_id), DBT(o->payment_url),
                             DBI(o->checkout_expires_at)),
                   NULL, ei);
}

int orders_checkout_open(struct db *db, struct order *o, struct arena *a,
                         struct souk_errinfo *ei)
{
    struct checkout_session cs = {0};
    int err;

    snprintf(cs.payment_id, sizeof cs.payment_id, "%s", o->payment_id);
    if ((err = payments_checkout_open(db, &cs, ei)))
        return err;
    /* The URL lives in the payments row; the copy on the order lets the
     * order be shown without asking payments. Losing this write is
     * harmless: opening again replays the same session. */
    o->payment_url = arena_strdup(a, cs.url);
    o->checkout_expires_at = cs.expires_at;
    return db_run(db, record_url, o, ei);
}

/* ---- the purpose ---------------------------------------------------------------------- */

/* POST /api/payments/checkout/ {purpose: "order", id}: the order's current
 * checkout (same attempt: the same session is handed out again). */
static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];
    struct order o;
    int err;

    (void)body;
    if (uuid_normalize(object_id, id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such order.");
    if ((err = orders_load_tx(tx, id, a, &o, ei)))
        return err;
    if (strcmp(o.customer_id, user_id) != 0)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such order.");
    if (strcmp(o.status, "pending") != 0)
        return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              "Only a pending order can be paid.");
    out->unit_amount = o.unit_price;
    out->quantity = o.quantity;
    out->currency = arena_strdup(a, o.currency);
    out->product_name = arena_sprintf(a, "%s - %s", o.service_name, o.variant_name);
    out->customer_email = o.customer_email;
    out->success_path = arena_sprintf(a, "/api/orders/%s/success/", o.id);
    out->cancel_path = arena_sprintf(a, "/api/orders/%s/cancel/", o.id);
    out->attempt = o.attempt;
    return 0;
}

/* Loads the order an event is about into a fresh arena. *o->id empty when
 * the order is unknown (the event is then only logged). */
static int event_order(struct db_conn *tx, const struct payment_event *ev, struct arena *a,
                       struct order *o, struct souk_errinfo *ei)
{
    int err = orders_load_tx(tx, ev->object_id, a, o, ei);

    if (err == SOUK_NOT_FOUND) {
        log_warn("payment %s: event %s for unknown order %s", ev->payment_id, ev->type,
                 ev->object_id);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        o->id[0] = 0;
        return 0;
    }
    return err;
}

static int enqueue(struct db_conn *tx, const char *kind, json_t *payload, const char *key_part,
                   struct souk_errinfo *ei)
{
    char key[160];
    int err;

    snprintf(key, sizeof key, "%s:%s", kind, key_part);
    err = job_enqueue(tx, kind, payload, 0, key, NULL, ei);
    json_decref(payload);
    return err;
}

static int paid_tx(struct db_conn *tx, struct order *o, const struct payment_event *ev,
                   struct souk_errinfo *ei)
{
    int moved = 0;
    int err = orders_transition_tx(tx, o, "pending", "paid", &orders_actor_provider,
                                   ev->payment_intent ? ev->payment_intent : ev->session_id,
                                   &moved, ei);
    if (err || !moved)
        return err ? err : souk_fail(ei, SOUK_RETRY, "order changed under us");
    err = db_exec(tx, "UPDATE orders SET paid_payment_id = $2 WHERE id = $1",
                  DB_PARAMS(DBT(o->id), DBT(ev->payment_id)), NULL, ei);
    if (!err)
        err = enqueue(tx, JOB_PAID, json_pack("{s:s}", "order_id", o->id), o->id, ei);
    /* Paid through an older checkout: the current one must not be paid too. */
    if (!err && o->payment_id[0] && strcmp(o->payment_id, ev->payment_id) != 0)
        err = enqueue(tx, JOB_CHECKOUT_EXPIRE, json_pack("{s:s}", "payment_id", o->payment_id),
                      o->payment_id, ei);
    return err;
}

static int on_paid(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct order o;
    int err = event_order(tx, ev, a, &o, ei);

    if (err || !o.id[0]) {
        arena_free(a);
        return err;
    }
    if (strcmp(o.status, "pending") == 0)
        err = paid_tx(tx, &o, ev, ei);
    else if (strcmp(o.paid_payment_id, ev->payment_id) != 0) {
        /* Cancelled, expired, failed, or paid twice: give the money back. */
        err = orders_note_tx(tx, &o, &orders_actor_provider, arena_sprintf(a, "late_payment_received %s", ev->payment_id), ei);
        if (!err)
            err = enqueue(tx, JOB_REFUND_LATE,
                          json_pack("{s:s, s:s}", "order_id", o.id, "payment_id",
                                    ev->payment_id),
                          ev->payment_id, ei);
    }
    arena_free(a);
    return err;
}

static int on_failed(struct db_conn *tx, const struct payment_event *ev,
                     struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct order o;
    int moved = 0, err = event_order(tx, ev, a, &o, ei);

    if (!err && o.id[0] && strcmp(o.payment_id, ev->payment_id) == 0 &&
        strcmp(o.status, "pending") == 0) {
        if (strcmp(ev->type, "checkout.session.async_payment_failed") == 0)
            err = orders_release_tx(tx, &o, "failed", &orders_actor_provider,
                                    "payment_failed", &moved, ei);
        else /* a declined card: the checkout stays open, the customer may retry */
            err = orders_note_tx(tx, &o, &orders_actor_provider, "payment_declined", ei);
    }
    arena_free(a);
    return err;
}

static int on_expired(struct db_conn *tx, const struct payment_event *ev,
                      struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct order o;
    int moved = 0, err = event_order(tx, ev, a, &o, ei);

    if (!err && o.id[0] && strcmp(o.payment_id, ev->payment_id) == 0) {
        err = orders_release_tx(tx, &o, "cancelled", &orders_actor_provider, "expired",
                                &moved, ei);
    }
    arena_free(a);
    return err;
}

static int on_refunded(struct db_conn *tx, const struct payment_event *ev,
                       struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct order o;
    int moved = 0, err = event_order(tx, ev, a, &o, ei);

    if (!err && o.id[0] && ev->fully_refunded && strcmp(o.paid_payment_id, ev->payment_id) == 0)
        err = orders_refunded_tx(tx, &o, &orders_actor_provider, "charge.refunded", &moved, ei);
    arena_free(a);
    return err;
}

static const struct payment_purpose order_purpose = {
    .name = "order",
    .prepare = prepare,
    .on_paid = on_paid,
    .on_failed = on_failed,
    .on_expired = on_expired,
    .on_refunded = on_refunded,
    .reopens_itself = 1, /* order.checkout_open, which also releases the stock */
    .audits_paid = 1,    /* orders_transition_tx audits the move to paid */
};

/* ---- jobs --------------------------------------------------------------------------------- */

static const char *payload_str(const struct job *job, const char *k)
{
    return json_string_value(json_object_get(job->payload, k));
}

struct expire_args {
    const char *order_id;
    int attempt;
    struct arena *a;
    struct order o;
    int moved;
};

static int expire_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct expire_args *x = arg;
    int err = orders_load_tx(tx, x->order_id, x->a, &x->o, ei);

    x->moved = 0;
    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_PRECONDITION, "no such order");
    if (err || x->o.attempt != x->attempt)
        return err; /* a newer payment link has its own expiry job */
    return orders_release_tx(tx, &x->o, "cancelled", &orders_actor_system, "expired",
                             &x->moved, ei);
}

/* order.expire: souk's own clock releases the stock of an unpaid order. */
static int job_expire(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct expire_args x = {
        .order_id = payload_str(job, "order_id"),
        .attempt = (int)json_integer_value(json_object_get(job->payload, "attempt")),
        .a = arena_new(0),
    };
    int err = x.order_id ? db_tx_run(db, expire_tx, &x, ei)
                         : souk_fail(ei, SOUK_PRECONDITION, "bad payload");

    if (!err && x.moved && x.o.payment_id[0]) {
        /* Close it at the provider too; a payment that still slips through
         * is refunded by on_paid. Failure here changes nothing for us. */
        struct souk_errinfo e2 = {0};
        if (payments_checkout_expire(db, x.o.payment_id, &e2))
            log_info("order %s: provider expiry: %s", x.o.id, e2.detail);
        souk_errinfo_cleanup(&e2);
    }
    arena_free(x.a);
    return err;
}

/* order.checkout_expire: a checkout that must not be paid any more. */
static int job_checkout_expire(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *pid = payload_str(job, "payment_id");
    int err;

    if (!pid)
        return souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    err = payments_checkout_expire(db, pid, ei);
    if (err == SOUK_UPSTREAM) { /* not open any more (paid or expired): nothing to do */
        log_info("payment %s: checkout not expired: %s", pid, ei->detail);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    }
    return err;
}

/* The variables of the invoice and of the vendor's email. */
static json_t *invoice_vars(const struct order *o)
{
    char unit[MONEY_STR_LEN], total[MONEY_STR_LEN], line[1024];

    money_format(o->unit_price, unit);
    money_format(o->total_amount, total);
    snprintf(line, sizeof line, "%s - %s  x %d  @ %s %s  = %s %s", o->service_name,
             o->variant_name, o->quantity, unit, o->currency, total, o->currency);
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "order_id",
                     o->id, "vendor_name", o->vendor_name, "service_name", o->service_name,
                     "variant_name", o->variant_name, "quantity", o->quantity, "unit_price",
                     unit, "subtotal", total, "total", total, "currency", o->currency,
                     "customer_email", o->customer_email, "lines", line);
}

static int vendor_mail(struct db_conn *tx, const struct order *o, const json_t *vars,
                       struct souk_errinfo *ei)
{
    char key[96];
    struct user u;
    int err;

    if (!mail_template_exists(VENDOR_MAIL_TEMPLATE)) {
        log_warn("mail template %s is missing: vendor not told of order %s",
                 VENDOR_MAIL_TEMPLATE, o->id);
        return 0;
    }
    if ((err = users_get(tx, o->vendor_user_id, &u, ei)))
        return err;
    snprintf(key, sizeof key, "order_vendor_paid:%s", o->id);
    return mail_enqueue(tx, u.email, VENDOR_MAIL_TEMPLATE, vars, key, ei);
}

struct paid_args {
    const char *order_id;
    struct arena *a;
};

static int paid_job_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct paid_args *p = arg;
    char key[96];
    struct order o;
    json_t *vars;
    int moved = 0, err = orders_load_tx(tx, p->order_id, p->a, &o, ei);

    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_PRECONDITION, "no such order");
    if (err || strcmp(o.status, "paid") != 0)
        return err; /* done already, or refunded meanwhile */
    vars = invoice_vars(&o);
    snprintf(key, sizeof key, "order_invoice:%s", o.id);
    err = mail_enqueue(tx, o.customer_email, "order_invoice", vars, key, ei);
    if (!err)
        err = vendor_mail(tx, &o, vars, ei);
    json_decref(vars);
    if (!err)
        err = orders_transition_tx(tx, &o, "paid", "processing", &orders_actor_system,
                                   "invoice_sent", &moved, ei);
    return err;
}

/* order.paid: the invoice goes out and the order moves on to processing. */
static int job_paid(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct paid_args p = {payload_str(job, "order_id"), arena_new(0)};
    int err = p.order_id ? db_tx_run(db, paid_job_tx, &p, ei)
                         : souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    arena_free(p.a);
    return err;
}

struct late_args {
    const char *order_id, *payment_id;
    struct arena *a;
};

static int late_note_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct late_args *l = arg;
    const char *note = arena_sprintf(l->a, "late_payment_refunded %s", l->payment_id);
    struct db_res *r;
    struct order o;
    int err = orders_load_tx(tx, l->order_id, l->a, &o, ei);

    if (!err)
        err = db_query(tx, "SELECT 1 FROM order_history WHERE order_id = $1 AND note = $2",
                       DB_PARAMS(DBT(o.id), DBT(note)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 0)
        err = orders_note_tx(tx, &o, &orders_actor_system, note, ei);
    db_res_free(r);
    return err;
}

/* order.refund_late: money that arrived for an order that could not take it
 * goes back, once (the job is unique per payment and the refund itself is
 * idempotent at the provider). */
static int job_refund_late(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct late_args l = {payload_str(job, "order_id"), payload_str(job, "payment_id"),
                          arena_new(0)};
    int err = 0;

    if (!l.order_id || !l.payment_id)
        err = souk_fail(ei, SOUK_PRECONDITION, "bad payload");
    if (!err)
        err = payments_refund(db, l.payment_id, 0, "duplicate", ei);
    if (err == SOUK_PRECONDITION && l.payment_id) { /* refunded already */
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    }
    if (!err)
        err = db_tx_run(db, late_note_tx, &l, ei);
    arena_free(l.a);
    return err;
}

int orders_checkout_retry_tx(struct db_conn *tx, const struct order *o, struct souk_errinfo *ei)
{
    char key[96];
    json_t *p = json_pack("{s:s, s:i}", "order_id", o->id, "attempt", o->attempt);
    int err;

    snprintf(key, sizeof key, "%s:%s:%d", JOB_CHECKOUT_OPEN, o->id, o->attempt);
    err = job_enqueue(tx, JOB_CHECKOUT_OPEN, p, clock_now_us() + CHECKOUT_OPEN_FIRST_US, key,
                      NULL, ei);
    json_decref(p);
    return err;
}

struct reopen {
    struct order o;
    struct arena *a;
    const char *note;
    int moved;
};

static int reopen_release_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct reopen *r = arg;
    int err = orders_load_tx(tx, r->o.id, r->a, &r->o, ei);
    return err ? err
               : orders_release_tx(tx, &r->o, "cancelled", &orders_actor_system, r->note,
                                   &r->moved, ei);
}

/* order.checkout_open: the create whose outcome was unknown, asked again. */
static int job_checkout_open(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = payload_str(job, "order_id");
    int attempt = (int)json_integer_value(json_object_get(job->payload, "attempt"));
    struct reopen r = {.a = arena_new(0), .note = "checkout_failed"};
    int err = id ? orders_get(db, id, 0, r.a, &r.o, ei)
                 : souk_fail(ei, SOUK_PRECONDITION, "bad payload");

    if (err || r.o.attempt != attempt || !r.o.payment_id[0]) {
        arena_free(r.a);
        return err == SOUK_NOT_FOUND ? 0 : err;
    }
    err = orders_checkout_open(db, &r.o, r.a, ei);
    if (!err && strcmp(r.o.status, "pending") != 0) {
        /* expired (or cancelled) while the provider was silent: close it there */
        struct souk_errinfo e2 = {0};
        if (payments_checkout_expire(db, r.o.payment_id, &e2))
            log_info("order %s: provider expiry: %s", r.o.id, e2.detail);
        souk_errinfo_cleanup(&e2);
    } else if (err && !payments_outcome_unknown(ei)) {
        log_info("order %s: the provider refused the checkout: %s", r.o.id, ei->detail);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = db_tx_run(db, reopen_release_tx, &r, ei);
    }
    arena_free(r.a);
    return err; /* unknown again: the job runs later, same idempotency key */
}

void orders_pay_register(void)
{
    payments_register_purpose(&order_purpose);
    job_register_provider(JOB_EXPIRE, job_expire, 10);
    job_register(JOB_PAID, job_paid, 10);
    job_register_provider(JOB_REFUND_LATE, job_refund_late, 12);
    job_register_provider(JOB_CHECKOUT_EXPIRE, job_checkout_expire, 6);
    job_register_provider(JOB_CHECKOUT_OPEN, job_checkout_open, 8);
}
