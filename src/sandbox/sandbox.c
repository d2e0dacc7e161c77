/* sandbox.c - a Stripe-compatible subset, kept in souk's own database, so
 * that the real client (stripe.c) is exercised end to end offline.
 *
 * Served by this process on its own loopback port (sandbox_http.c holds the
 * routes and the hosted checkout page). Objects are Stripe-shaped JSON in
 * sandbox_objects (API version STRIPE_API_VERSION: periods on subscription
 * items, invoice -> parent.subscription_details); `state` mirrors the status
 * for conditional updates (two payers of one session: one wins).
 *
 * What happens, and the events it sends (signed with the webhook secret,
 * delivered by the job "sandbox.deliver" with retries, like Stripe):
 *   pay, payment mode      payment_intent.succeeded, checkout.session.completed
 *   pay, subscription      customer.subscription.created, invoice.paid,
 *                          checkout.session.completed
 *   decline                payment_intent.payment_failed (session stays open)
 *   expiry (job at expires_at, or POST .../expire)  checkout.session.expired
 *   renewal (job at period end; SOUK_SANDBOX_PERIOD_SECONDS per period)
 *                          invoice.paid + customer.subscription.updated, or with
 *                          the failing card invoice.payment_failed (past_due),
 *                          retried SANDBOX_DUNNING_TRIES times, then
 *                          customer.subscription.deleted
 *   cancel at period end   customer.subscription.deleted at the end
 *   refund                 charge.refunded
 *   refund refused         (the refund-failing card) nothing: a 402 card_error
 *
 * Test cards: 4242424242424242 pays; 4000000000000002 declines;
 * 4000000000000341 pays now, every renewal fails; 4000000000005126 pays, but
 * refunding the payment fails; 4000002760003184 asks for 3-D Secure (the
 * page shows an authentication step, sbx_checkout_authenticate) and, as on
 * Stripe, every renewal with it fails. In real Stripe that last card's refund is
 * accepted (status succeeded) and fails later, asynchronously (refund.failed,
 * failure_reason expired_or_canceled_card); the sandbox has no refund.failed
 * and refuses at once instead, with the body Stripe uses for a refusal, so
 * that the caller's "provider refused" path can be exercised.
 *
 * Thread safety: state lives in the database; the server handle and base
 * URL are set once at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "db/db.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "payments/internal.h"

#define CARD_OK "4242424242424242"
#define CARD_DECLINE "4000000000000002"
#define CARD_RENEWAL_FAILS "4000000000000341"
#define CARD_REFUND_FAILS "4000000000005126"
#define CARD_3DS "4000002760003184"
#define SANDBOX_DUNNING_TRIES 3
#define JOB_DELIVER "sandbox.deliver"
#define JOB_EXPIRE "sandbox.expire"
#define JOB_RENEW "sandbox.renew"

static struct http_server *server;
static struct router *router;
static char base_url[128];

const char *sandbox_base_url(void)
{
    return base_url;
}

static int64_t now_s(void)
{
    return clock_now_us() / 1000000;
}

static int period_s(void)
{
    return souk_cfg && souk_cfg->sandbox_period_seconds > 0 ? souk_cfg->sandbox_period_seconds
                                                           : 30 * 86400;
}

/* "cs_test_" + 24 random alphanumerics */
static void new_id(const char *prefix, char out[64])
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = (size_t)snprintf(out, 64, "%s", prefix);

    for (int i = 0; i < 24; i++)
        out[n++] = al[randombytes_uniform(sizeof al - 1)];
    out[n] = 0;
}

int sbx_error(struct sbx_resp *out, int status, const char *type, const char *code,
              const char *param, const char *message)
{
    out->status = status;
    out->body = json_pack("{s:{s:s, s:s?, s:s?, s:s}}", "error", "type", type, "code", code,
                          "param", param, "message", message);
    return 0;
}

static int not_found(struct sbx_resp *out, const char *what, const char *id)
{
    char msg[256];
    snprintf(msg, sizeof msg, "No such %s: '%s'", what, id ? id : "");
    return sbx_error(out, 404, "invalid_request_error", "resource_missing", "id", msg);
}

static int ok(struct sbx_resp *out, json_t *obj)
{
    out->status = 200;
    out->body = obj;
    return 0;
}

/* ---- object store ------------------------------------------------------------ */

struct obj {
    json_t *o;    /* the Stripe object */
    json_t *priv; /* what Stripe would not show */
    char state[32];
};

static void obj_cleanup(struct obj *x)
{
    json_decref(x->o);
    json_decref(x->priv);
    x->o = x->priv = NULL;
}

/* 0 with x->o NULL when there is no such object of that type. */
static int obj_load(struct db_conn *tx, const char *id, const char *type, struct obj *x,
                    struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err;

    memset(x, 0, sizeof *x);
    if (!id)
        return 0;
    err = db_query(tx, "SELECT object, private, state FROM sandbox_objects WHERE id = $1 AND "
                       "type = $2",
                   DB_PARAMS(DBT(id), DBT(type)), &r, ei);
    if (!err && db_nrows(r) == 1) {
        x->o = json_loads(db_get(r, 0, 0), 0, NULL);
        x->priv = json_loads(db_get(r, 0, 1), 0, NULL);
        snprintf(x->state, sizeof x->state, "%s", db_get(r, 0, 2));
        if (!x->o || !x->priv) {
            obj_cleanup(x);
            err = souk_fail(ei, SOUK_INTERNAL, "sandbox object %s unreadable", id);
        }
    }
    db_res_free(r);
    return err;
}

static int obj_put(struct db_conn *tx, const char *type, const char *state, json_t *o,
                   json_t *priv, int insert, struct souk_errinfo *ei)
{
    char *text = json_dumps(o, JSON_COMPACT);
    char *ptext = priv ? json_dumps(priv, JSON_COMPACT) : strdup("{}");
    const char *id = json_string_value(json_object_get(o, "id"));
    int64_t now = clock_now_us();
    int err;

    if (insert)
        err = db_exec_later(
            tx,
            "INSERT INTO sandbox_objects (id, type, state, object, private, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            DB_PARAMS(DBT(id), DBT(type), DBT(state), DBT(text), DBT(ptext), DBI(now)), ei);
    else
        err = db_exec_later(tx,
                            "UPDATE sandbox_objects SET state = $2, object = $3, private = $4, "
                            "updated_at = $5 WHERE id = $1",
                            DB_PARAMS(DBT(id), DBT(state), DBT(text), DBT(ptext), DBI(now)), ei);
    free(text);
    free(ptext);
    return err;
}

/* Moves state from -> to; *won = 1 when this call did it. */
static int obj_claim(struct db_conn *tx, const char *id, const char *from, const char *to,
                     int *won, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err = db_exec(tx, "UPDATE sandbox_objects SET state = $3 WHERE id = $1 AND state = $2",
                      DB_PARAMS(DBT(id), DBT(from), DBT(to)), &n, ei);
    *won = n == 1;
    return err;
}

/* ---- events ------------------------------------------------------------------- */

static int emit(struct db_conn *tx, const char *type, const json_t *o, json_t *prev,
                struct souk_errinfo *ei)
{
    char id[64];
    json_t *ev, *p;
    char *text;
    int err;

    new_id("evt_", id);
    ev = json_pack("{s:s, s:s, s:s, s:I, s:b, s:i, s:{s:n, s:n}, s:s, s:{s:O}}", "id", id,
                   "object", "event", "api_version", STRIPE_API_VERSION, "created",
                   (json_int_t)now_s(), "livemode", 0, "pending_webhooks", 1, "request", "id",
                   "idempotency_key", "type", type, "data", "object", o);
    if (prev)
        json_object_set_new(json_object_get(ev, "data"), "previous_attributes", prev);
    text = json_dumps(ev, JSON_COMPACT);
    err = db_exec(tx, "INSERT INTO sandbox_events (id, type, payload, created_at) "
                      "VALUES ($1, $2, $3, $4)",
                  DB_PARAMS(DBT(id), DBT(type), DBT(text), DBI(clock_now_us())), NULL, ei);
    p = json_pack("{s:s}", "event_id", id);
    if (!err)
        err = job_enqueue(tx, JOB_DELIVER, p, 0, NULL, NULL, ei);
    json_decref(p);
    free(text);
    json_decref(ev);
    return err;
}

/* ---- checkout sessions ---------------------------------------------------------- */

static int card_known(const char *digits)
{
    return !strcmp(digits, CARD_OK) || !strcmp(digits, CARD_DECLINE) ||
           !strcmp(digits, CARD_RENEWAL_FAILS) || !strcmp(digits, CARD_REFUND_FAILS) ||
           !strcmp(digits, CARD_3DS);
}

static const char *kv(const struct sbx_req *in, const char *k)
{
    return form_get(in->kv, in->n, k);
}

static int64_t kv_int(const struct sbx_req *in, const char *k, int64_t def)
{
    const char *v = kv(in, k);
    char *end;
    long long n;

    if (!v || !*v)
        return def;
    n = strtoll(v, &end, 10);
    return *end ? -1 : n;
}

/* Validates the Checkout Session parameters the way Stripe would (the subset
 * we use); returns 0 and fills out with an error on the first problem. */
static int session_params_bad(const struct sbx_req *in, struct sbx_resp *out)
{
    const char *mode = kv(in, "mode");
    const char *cur = kv(in, "line_items[0][price_data][currency]");
    int64_t amount = kv_int(in, "line_items[0][price_data][unit_amount]", -1);
    int64_t qty = kv_int(in, "line_items[0][quantity]", 1);
    const char *interval = kv(in, "line_items[0][price_data][recurring][interval]");
    int sub;

    if (!mode || (strcmp(mode, "payment") && strcmp(mode, "subscription")))
        return sbx_error(out, 400, "invalid_request_error", "parameter_invalid_empty", "mode",
                         "Invalid mode: must be one of payment or subscription"), 1;
    sub = strcmp(mode, "subscription") == 0;
    if (!kv(in, "success_url"))
        return sbx_error(out, 400, "invalid_request_error", "parameter_missing", "success_url",
                         "Missing required param: success_url."), 1;
    if (!cur || strlen(cur) != 3 || amount < 0 || qty < 1)
        return sbx_error(out, 400, "invalid_request_error", "parameter_invalid_integer",
                         "line_items", "line_items[0] needs price_data currency and "
                                       "unit_amount, and a quantity >= 1"), 1;
    if (sub != (interval != NULL))
        return sbx_error(out, 400, "invalid_request_error", "parameter_invalid",
                         "line_items[0][price_data][recurring]",
                         sub ? "Subscription mode needs a recurring price."
                             : "Recurring prices are only allowed in subscription mode."), 1;
    return 0;
}

static json_t *session_object(const struct sbx_req *in, const char *id, int64_t expires)
{
    int64_t amount = kv_int(in, "line_items[0][price_data][unit_amount]", 0) *
                     kv_int(in, "line_items[0][quantity]", 1);
    char url[256];

    snprintf(url, sizeof url, "%s/checkout/%s", base_url, id);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s?, s:s?, s:n, s:n, s:o, "
                     "s:n, s:n, s:n, s:s, s:s?, s:I, s:I, s:s, s:b, s:s}",
                     "id", id, "object", "checkout.session", "mode", kv(in, "mode"), "status",
                     "open", "payment_status", "unpaid", "amount_total", (json_int_t)amount,
                     "amount_subtotal", (json_int_t)amount, "currency",
                     kv(in, "line_items[0][price_data][currency]"), "client_reference_id",
                     kv(in, "client_reference_id"), "customer_email", kv(in, "customer_email"),
                     "customer", "customer_details", "metadata",
                     form_get_map(in->kv, in->n, "metadata"), "payment_intent", "subscription",
                     "invoice", "success_url", kv(in, "success_url"), "cancel_url",
                     kv(in, "cancel_url"), "expires_at", (json_int_t)expires, "created",
                     (json_int_t)now_s(), "url", url, "livemode", 0, "ui_mode", "hosted");
}

static json_t *session_private(const struct sbx_req *in)
{
    return json_pack(
        "{s:I, s:I, s:s?, s:s?, s:I, s:o, s:o}", "unit_amount",
        (json_int_t)kv_int(in, "line_items[0][price_data][unit_amount]", 0), "quantity",
        (json_int_t)kv_int(in, "line_items[0][quantity]", 1), "product_name",
        kv(in, "line_items[0][price_data][product_data][name]"), "interval",
        kv(in, "line_items[0][price_data][recurring][interval]"), "interval_count",
        (json_int_t)kv_int(in, "line_items[0][price_data][recurring][interval_count]", 1),
        "pi_metadata", form_get_map(in->kv, in->n, "payment_intent_data[metadata]"),
        "sub_metadata", form_get_map(in->kv, in->n, "subscription_data[metadata]"));
}

static int schedule_expiry(struct db_conn *tx, const char *id, int64_t expires,
                           struct souk_errinfo *ei)
{
    char key[128];
    json_t *p = json_pack("{s:s}", "session", id);
    int err;

    snprintf(key, sizeof key, "sandbox.expire:%s", id);
    err = job_enqueue(tx, JOB_EXPIRE, p, expires * 1000000, key, NULL, ei);
    json_decref(p);
    return err;
}

int sbx_session_create(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                       struct souk_errinfo *ei)
{
    int64_t expires = kv_int(in, "expires_at", 0);
    json_t *o, *priv;
    char id[64];
    int err;

    if (session_params_bad(in, out))
        return 0;
    if (expires == 0)
        expires = now_s() + 24 * 3600; /* Stripe's default */
    else if (expires < now_s())
        expires = now_s();
    new_id("cs_test_", id);
    o = session_object(in, id, expires);
    priv = session_private(in);
    err = obj_put(tx, "checkout.session", "open", o, priv, 1, ei);
    if (!err)
        err = schedule_expiry(tx, id, expires, ei);
    json_decref(priv);
    if (err) {
        json_decref(o);
        return err;
    }
    return ok(out, o);
}

int sbx_session_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                    struct souk_errinfo *ei)
{
    struct obj s;
    int err = obj_load(tx, in->id, "checkout.session", &s, ei);

    if (err)
        return err;
    if (!s.o)
        return not_found(out, "checkout.session", in->id);
    if (in->for_page) {
        json_object_set(s.o, "_product", json_object_get(s.priv, "product_name"));
        json_object_set(s.o, "_interval", json_object_get(s.priv, "interval"));
    }
    json_decref(s.priv);
    return ok(out, s.o);
}

/* open -> expired, with its event. *done = 0 when the session was not open. */
static int session_expire(struct db_conn *tx, const char *id, int *done, struct obj *s,
                          struct souk_errinfo *ei)
{
    int err = obj_claim(tx, id, "open", "expired", done, ei);

    if (err || !*done)
        return err;
    if ((err = obj_load(tx, id, "checkout.session", s, ei)) || !s->o)
        return err;
    json_object_set_new(s->o, "status", json_string("expired"));
    err = obj_put(tx, "checkout.session", "expired", s->o, s->priv, 0, ei);
    return err ? err : emit(tx, "checkout.session.expired", s->o, NULL, ei);
}

int sbx_session_expire(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                       struct souk_errinfo *ei)
{
    struct obj s = {0};
    int done = 0;
    int err = session_expire(tx, in->id, &done, &s, ei);

    if (err) {
        obj_cleanup(&s);
        return err;
    }
    if (!done) {
        obj_cleanup(&s);
        if ((err = obj_load(tx, in->id, "checkout.session", &s, ei)))
            return err;
        if (!s.o)
            return not_found(out, "checkout.session", in->id);
        obj_cleanup(&s);
        return sbx_error(out, 400, "invalid_request_error", "checkout_session_not_open", NULL,
                         "Only Checkout Sessions with a status in [\"open\"] can be expired.");
    }
    json_decref(s.priv);
    return ok(out, s.o);
}

/* ---- paying ----------------------------------------------------------------------- */

static json_t *customer_new(struct db_conn *tx, const char *email, struct souk_errinfo *ei,
                            int *err)
{
    char id[64];
    json_t *c;

    new_id("cus_", id);
    c = json_pack("{s:s, s:s, s:s?, s:I, s:b}", "id", id, "object", "customer", "email", email,
                  "created", (json_int_t)now_s(), "livemode", 0);
    *err = obj_put(tx, "customer", "", c, NULL, 1, ei);
    return c;
}

/* The session's PaymentIntent: one per session, reused by every attempt
 * (a decline, then a success), as Stripe Checkout does. */
static json_t *intent_for(const struct obj *s, const char *customer, const char *status,
                          const char *charge)
{
    char id[64];
    const char *known = json_string_value(json_object_get(s->priv, "payment_intent"));
    int64_t amount = json_integer_value(json_object_get(s->o, "amount_total"));
    int paid = strcmp(status, "succeeded") == 0;
    int sub = strcmp(json_string_value(json_object_get(s->o, "mode")), "subscription") == 0;

    if (known)
        snprintf(id, sizeof id, "%s", known);
    else
        new_id("pi_", id);
    json_object_set_new(s->priv, "payment_intent", json_string(id));
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s?, s:O, s:s?, s:I, s:b}", "id", id,
                     "object", "payment_intent", "amount", (json_int_t)amount, "amount_received",
                     (json_int_t)(paid ? amount : 0), "currency",
                     json_string_value(json_object_get(s->o, "currency")), "status", status,
                     "customer", customer, "metadata",
                     json_object_get(s->priv, sub ? "sub_metadata" : "pi_metadata"),
                     "latest_charge", charge, "created", (json_int_t)now_s(), "livemode", 0);
}

/* Saves a PaymentIntent (insert or update) and the session's private part. */
static int intent_save(struct db_conn *tx, const struct obj *s, json_t *pi, const char *state,
                       struct souk_errinfo *ei)
{
    struct obj old;
    int err = obj_load(tx, json_string_value(json_object_get(pi, "id")), "payment_intent", &old,
                       ei);
    int exists = old.o != NULL;

    obj_cleanup(&old);
    if (!err)
        err = obj_put(tx, "payment_intent", state, pi, NULL, !exists, ei);
    if (!err)
        err = obj_put(tx, "checkout.session", s->state, s->o, s->priv, 0, ei);
    return err;
}

static int pay_failed(struct db_conn *tx, struct obj *s, struct sbx_resp *out, json_t *error,
                      struct souk_errinfo *ei)
{
    json_t *pi = intent_for(s, NULL, "requires_payment_method", NULL);
    const char *msg = json_string_value(json_object_get(error, "message"));
    int err;

    out->body = json_pack("{s:s}", "message", msg);
    json_object_set_new(pi, "last_payment_error", error);
    err = intent_save(tx, s, pi, "requires_payment_method", ei);
    if (!err)
        err = emit(tx, "payment_intent.payment_failed", pi, NULL, ei);
    json_decref(pi);
    out->status = 402;
    return err;
}

static int pay_declined(struct db_conn *tx, struct obj *s, struct sbx_resp *out,
                        struct souk_errinfo *ei)
{
    return pay_failed(tx, s, out,
                      json_pack("{s:s, s:s, s:s, s:s}", "type", "card_error", "code",
                                "card_declined", "decline_code", "generic_decline", "message",
                                "Your card was declined."),
                      ei);
}

static int pay_payment_mode(struct db_conn *tx, struct obj *s, const char *cus,
                            const char *card, struct souk_errinfo *ei)
{
    char ch_id[64];
    json_t *pi, *ch, *priv = json_pack("{s:s}", "card", card);
    int err;

    new_id("ch_", ch_id);
    pi = intent_for(s, cus, "succeeded", ch_id);
    ch = json_pack("{s:s, s:s, s:O, s:I, s:s, s:s, s:s, s:O, s:b, s:I, s:b}", "id", ch_id,
                   "object", "charge", "amount", json_object_get(pi, "amount"),
                   "amount_refunded", (json_int_t)0, "currency",
                   json_string_value(json_object_get(pi, "currency")), "payment_intent",
                   json_string_value(json_object_get(pi, "id")), "status", "succeeded",
                   "metadata", json_object_get(pi, "metadata"), "refunded", 0, "created",
                   (json_int_t)now_s(), "paid", 1);
    json_object_set(s->o, "payment_intent", json_object_get(pi, "id"));
    err = intent_save(tx, s, pi, "succeeded", ei);
    if (!err)
        err = obj_put(tx, "charge", "succeeded", ch, priv, 1, ei);
    if (!err)
        err = emit(tx, "payment_intent.succeeded", pi, NULL, ei);
    json_decref(pi);
    json_decref(ch);
    json_decref(priv);
    return err;
}

static json_t *invoice_new(const json_t *sub, const char *reason, int64_t start, int64_t end,
                           int paid, int attempt)
{
    const json_t *item = json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);
    const json_t *price = json_object_get(item, "price");
    int64_t amount = json_integer_value(json_object_get(price, "unit_amount")) *
                     json_integer_value(json_object_get(item, "quantity"));
    char id[64];

    new_id("in_", id);
    return json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:O, s:s, s:i, s:n, s:{s:s, s:{s:O, s:O}}, "
        "s:{s:s, s:[{s:I, s:O, s:{s:I, s:I}}]}, s:I, s:b}",
        "id", id, "object", "invoice", "status", paid ? "paid" : "open", "amount_due",
        (json_int_t)amount, "amount_paid", (json_int_t)(paid ? amount : 0), "amount_remaining",
        (json_int_t)(paid ? 0 : amount), "currency", json_object_get(price, "currency"),
        "customer", json_object_get(sub, "customer"), "billing_reason", reason, "attempt_count",
        attempt, "next_payment_attempt", "parent", "type", "subscription_details",
        "subscription_details", "subscription", json_object_get(sub, "id"), "metadata",
        json_object_get(sub, "metadata"), "lines", "object", "list", "data", "amount",
        (json_int_t)amount, "currency", json_object_get(price, "currency"), "period", "start",
        (json_int_t)start, "end", (json_int_t)end, "created", (json_int_t)now_s(), "livemode", 0);
}

static json_t *subscription_new(const struct obj *s, const char *cus)
{
    char id[64], si[64], price[64], prod[64];
    int64_t start = now_s(), end = start + period_s();

    new_id("sub_", id);
    new_id("si_", si);
    new_id("price_", price);
    new_id("prod_", prod);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:n, s:n, s:n, s:O, s:I, s:I, s:s, "
        "s:{s:s, s:[{s:s, s:s, s:I, s:I, s:I, s:{s:s, s:s, s:O, s:O, s:s, "
        "s:{s:O, s:O}}}]}, s:b}",
        "id", id, "object", "subscription", "status", "active", "customer", cus,
        "cancel_at_period_end", 0, "cancel_at", "canceled_at", "ended_at", "metadata",
        json_object_get(s->priv, "sub_metadata"), "created", (json_int_t)start, "start_date",
        (json_int_t)start, "latest_invoice", "", "items", "object", "list", "data", "id", si,
        "object", "subscription_item", "quantity", json_integer_value(json_object_get(s->priv, "quantity")),
        "current_period_start", (json_int_t)start, "current_period_end", (json_int_t)end,
        "price", "id", price, "object", "price", "unit_amount",
        json_object_get(s->priv, "unit_amount"), "currency", json_object_get(s->o, "currency"),
        "product", prod, "recurring", "interval", json_object_get(s->priv, "interval"),
        "interval_count", json_object_get(s->priv, "interval_count"), "livemode", 0);
}

static int schedule_renewal(struct db_conn *tx, const json_t *sub, int64_t at_s,
                            struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(sub, "id"));
    json_t *p = json_pack("{s:s}", "subscription", id);
    char key[160];
    int err;

    snprintf(key, sizeof key, "sandbox.renew:%s:%lld", id, (long long)at_s);
    err = job_enqueue(tx, JOB_RENEW, p, at_s * 1000000, key, NULL, ei);
    json_decref(p);
    return err;
}

static int pay_subscription_mode(struct db_conn *tx, struct obj *s, const char *cus,
                                 const char *card, struct souk_errinfo *ei)
{
    json_t *sub = subscription_new(s, cus);
    const json_t *item = json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);
    int64_t start = json_integer_value(json_object_get(item, "current_period_start"));
    int64_t end = json_integer_value(json_object_get(item, "current_period_end"));
    json_t *inv = invoice_new(sub, "subscription_create", start, end, 1, 1);
    json_t *priv = json_pack("{s:s, s:i}", "card", card, "failures", 0);
    int err;

    json_object_set(sub, "latest_invoice", json_object_get(inv, "id"));
    json_object_set(s->o, "subscription", json_object_get(sub, "id"));
    json_object_set(s->o, "invoice", json_object_get(inv, "id"));
    err = obj_put(tx, "subscription", "active", sub, priv, 1, ei);
    if (!err)
        err = obj_put(tx, "invoice", "paid", inv, NULL, 1, ei);
    if (!err)
        err = emit(tx, "customer.subscription.created", sub, NULL, ei);
    if (!err)
        err = emit(tx, "invoice.paid", inv, NULL, ei);
    if (!err)
        err = schedule_renewal(tx, sub, end, ei);
    json_decref(sub);
    json_decref(inv);
    json_decref(priv);
    return err;
}

/* success_url with {CHECKOUT_SESSION_ID} replaced */
static json_t *redirect_to(const json_t *session)
{
    const char *url = json_string_value(json_object_get(session, "success_url"));
    const char *id = json_string_value(json_object_get(session, "id"));
    const char *mark = "{CHECKOUT_SESSION_ID}", *at = url ? strstr(url, mark) : NULL;
    char buf[PAYMENTS_URL_MAX + 128];

    if (at)
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - url), url, id, at + strlen(mark));
    else
        snprintf(buf, sizeof buf, "%s", url ? url : "/");
    return json_pack("{s:s}", "redirect", buf);
}

static int pay_success(struct db_conn *tx, struct obj *s, const char *card,
                       struct sbx_resp *out, struct souk_errinfo *ei)
{
    const char *email = json_string_value(json_object_get(s->o, "customer_email"));
    int sub = strcmp(json_string_value(json_object_get(s->o, "mode")), "subscription") == 0;
    int err = 0;
    json_t *cus = customer_new(tx, email, ei, &err);
    const char *cus_id = json_string_value(json_object_get(cus, "id"));

    if (!err)
        err = sub ? pay_subscription_mode(tx, s, cus_id, card, ei)
                  : pay_payment_mode(tx, s, cus_id, card, ei);
    json_object_set_new(s->o, "status", json_string("complete"));
    json_object_set_new(s->o, "payment_status", json_string("paid"));
    json_object_set_new(s->o, "customer", json_string(cus_id));
    json_object_set_new(s->o, "customer_details", json_pack("{s:s?}", "email", email));
    json_decref(cus);
    if (!err)
        err = obj_put(tx, "checkout.session", "complete", s->o, s->priv, 0, ei);
    if (!err)
        err = emit(tx, "checkout.session.completed", s->o, NULL, ei);
    out->status = 303;
    out->body = redirect_to(s->o);
    return err;
}

/* 3-D Secure: marks (or clears) the session's pending authentication. */
static int ask_3ds(struct db_conn *tx, struct obj *s, int pending, struct sbx_resp *out,
                   struct souk_errinfo *ei)
{
    if (!s->priv)
        s->priv = json_object();
    json_object_set_new(s->priv, "pending_3ds", json_boolean(pending));
    if (pending) {
        out->status = 200;
        out->body = json_pack("{s:b}", "authenticate", 1);
    }
    return obj_put(tx, "checkout.session", s->state, s->o, s->priv, 0, ei);
}

int sbx_checkout_authenticate(struct db_conn *tx, const struct sbx_req *in,
                              struct sbx_resp *out, struct souk_errinfo *ei)
{
    const char *result = kv(in, "result");
    struct obj s;
    int won = 0, err;

    if ((err = obj_load(tx, in->id, "checkout.session", &s, ei)) || !s.o)
        return err ? err : not_found(out, "checkout.session", in->id);
    if (strcmp(s.state, "open") || !json_is_true(json_object_get(s.priv, "pending_3ds"))) {
        out->status = 409;
        out->body = json_pack("{s:s}", "message", "No authentication is pending.");
    } else if (!result || (strcmp(result, "approve") && strcmp(result, "fail"))) {
        out->status = 400;
        out->body = json_pack("{s:s}", "message", "result must be approve or fail.");
    } else if (!(err = ask_3ds(tx, &s, 0, out, ei)) && !strcmp(result, "fail")) {
        err = pay_failed(tx, &s, out,
                         json_pack("{s:s, s:s, s:s}", "type", "invalid_request_error", "code",
                                   "payment_intent_authentication_failure", "message",
                                   "The card could not be authenticated."),
                         ei);
    } else if (!err && !(err = obj_claim(tx, in->id, "open", "complete", &won, ei)) && won) {
        err = pay_success(tx, &s, CARD_3DS, out, ei);
    }
    if (!err && !out->body) { /* a concurrent payer won */
        out->status = 409;
        out->body = json_pack("{s:s}", "message", "This checkout session is no longer open.");
    }
    obj_cleanup(&s);
    return err;
}

int sbx_checkout_pay(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                     struct souk_errinfo *ei)
{
    const char *card = kv(in, "card_number");
    struct obj s;
    int won = 0, err;
    char digits[32] = {0};

    for (size_t i = 0, j = 0; card && card[i] && j < sizeof digits - 1; i++)
        if (card[i] >= '0' && card[i] <= '9')
            digits[j++] = card[i];
    if ((err = obj_load(tx, in->id, "checkout.session", &s, ei)) || !s.o)
        return err ? err : not_found(out, "checkout.session", in->id);
    if (!card_known(digits)) {
        obj_cleanup(&s);
        out->status = 400;
        out->body = json_pack("{s:s}", "message", "Your card number is incorrect.");
        return 0;
    }
    if (strcmp(digits, CARD_DECLINE) == 0)
        err = strcmp(s.state, "open") ? 0 : pay_declined(tx, &s, out, ei);
    else if (strcmp(digits, CARD_3DS) == 0)
        err = strcmp(s.state, "open") ? 0 : ask_3ds(tx, &s, 1, out, ei);
    else if (!(err = obj_claim(tx, in->id, "open", "complete", &won, ei)) && won)
        err = pay_success(tx, &s, digits, out, ei);
    if (!err && !out->body) { /* not open (paid, expired, or a concurrent payer won) */
        out->status = 409;
        out->body = json_pack("{s:s, s:s}", "message",
                              strcmp(s.state, "expired") == 0 ? "This checkout session has expired."
                                                               : "This checkout session is no longer open.",
                              "state", s.state);
    }
    obj_cleanup(&s);
    return err;
}

/* Pays session_id with the test card, as the hosted page would (the events
 * follow through the delivery job). */
struct pay_args {
    const char *session_id;
    struct sbx_resp out;
};

static int pay_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct pay_args *x = arg;
    struct form_kv card = {"card_number", CARD_OK};
    struct sbx_req in = {.kv = &card, .n = 1, .id = x->session_id};
    int err = sbx_checkout_pay(tx, &in, &x->out, ei);

    if (!err && x->out.status != 303)
        err = souk_fail(ei, SOUK_PRECONDITION, "The sandbox refused the payment (%d).",
                        x->out.status);
    return err;
}

int sandbox_pay_session(struct db *db, const char *session_id, struct souk_errinfo *ei)
{
    struct pay_args x = {.session_id = session_id};
    int err = db_tx_run(db, pay_tx, &x, ei);

    json_decref(x.out.body);
    return err;
}

/* ---- refunds ----------------------------------------------------------------------- */

static int refund_apply(struct db_conn *tx, struct obj *ch, int64_t amount, const char *reason,
                        const struct sbx_req *in, struct sbx_resp *out, struct souk_errinfo *ei)
{
    int64_t total = json_integer_value(json_object_get(ch->o, "amount"));
    int64_t before = json_integer_value(json_object_get(ch->o, "amount_refunded"));
    json_t *re, *prev;
    char id[64];
    int err;

    new_id("re_", id);
    re = json_pack("{s:s, s:s, s:I, s:O, s:O, s:O, s:s, s:s?, s:o, s:I}", "id", id, "object",
                   "refund", "amount", (json_int_t)amount, "charge", json_object_get(ch->o, "id"),
                   "payment_intent", json_object_get(ch->o, "payment_intent"), "currency",
                   json_object_get(ch->o, "currency"), "status", "succeeded", "reason", reason,
                   "metadata", form_get_map(in->kv, in->n, "metadata"), "created",
                   (json_int_t)now_s());
    prev = json_pack("{s:I, s:b}", "amount_refunded", (json_int_t)before, "refunded",
                     before == total);
    json_object_set_new(ch->o, "amount_refunded", json_integer(before + amount));
    json_object_set_new(ch->o, "refunded", json_boolean(before + amount == total));
    err = obj_put(tx, "refund", "succeeded", re, NULL, 1, ei);
    if (!err)
        err = obj_put(tx, "charge", ch->state, ch->o, ch->priv, 0, ei);
    if (!err)
        err = emit(tx, "charge.refunded", ch->o, prev, ei);
    else
        json_decref(prev);
    if (err) {
        json_decref(re);
        return err;
    }
    return ok(out, re);
}

/* The charge was paid with the card whose refunds fail. */
static int refund_refused(const struct obj *ch)
{
    const char *card = json_string_value(json_object_get(ch->priv, "card"));
    return card && strcmp(card, CARD_REFUND_FAILS) == 0;
}

/* Stripe's shape for a valid request that failed: 402, a card_error naming
 * the charge; nothing is created and no event is sent. */
static int refuse_refund(const struct obj *ch, struct sbx_resp *out)
{
    sbx_error(out, 402, "card_error", "expired_card", NULL,
              "The refund could not be processed: the card is expired or canceled "
              "(failure_reason expired_or_canceled_card).");
    json_object_set(json_object_get(out->body, "error"), "charge", json_object_get(ch->o, "id"));
    return 0;
}

int sbx_refund_create(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                      struct souk_errinfo *ei)
{
    const char *pi_id = kv(in, "payment_intent"), *ch_id = kv(in, "charge");
    struct obj pi = {0}, ch = {0};
    int64_t amount = kv_int(in, "amount", 0), left;
    int err = 0;

    if (pi_id && !(err = obj_load(tx, pi_id, "payment_intent", &pi, ei)) && pi.o)
        ch_id = json_string_value(json_object_get(pi.o, "latest_charge"));
    if (!err)
        err = obj_load(tx, ch_id, "charge", &ch, ei);
    if (err || !ch.o) {
        obj_cleanup(&pi);
        return err ? err : not_found(out, pi_id ? "payment_intent" : "charge", pi_id ? pi_id : ch_id);
    }
    left = json_integer_value(json_object_get(ch.o, "amount")) -
           json_integer_value(json_object_get(ch.o, "amount_refunded"));
    const char *reason = kv(in, "reason");
    if (reason && strcmp(reason, "duplicate") && strcmp(reason, "fraudulent") &&
        strcmp(reason, "requested_by_customer")) {
        obj_cleanup(&pi);
        obj_cleanup(&ch);
        return sbx_error(out, 400, "invalid_request_error", "parameter_invalid", "reason",
                         "Invalid reason: must be one of duplicate, fraudulent, or "
                         "requested_by_customer");
    }
    if (amount == 0)
        amount = left;
    if (refund_refused(&ch))
        err = refuse_refund(&ch, out);
    else if (amount < 0 || amount > left || left == 0)
        err = sbx_error(out, 400, "invalid_request_error",
                        left == 0 ? "charge_already_refunded" : "amount_too_large", "amount",
                        "Refund amount is greater than the unrefunded amount on the charge.");
    else
        err = refund_apply(tx, &ch, amount, kv(in, "reason"), in, out, ei);
    obj_cleanup(&pi);
    obj_cleanup(&ch);
    return err;
}

/* ---- subscriptions ------------------------------------------------------------------ */

static json_t *sub_item(const json_t *sub)
{
    return json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);
}

static int with_invoice(struct db_conn *tx, const struct sbx_req *in, json_t *sub,
                        struct souk_errinfo *ei)
{
    struct obj inv;
    int err;

    if (!in->expand_invoice)
        return 0;
    err = obj_load(tx, json_string_value(json_object_get(sub, "latest_invoice")), "invoice", &inv,
                   ei);
    if (!err && inv.o)
        json_object_set(sub, "latest_invoice", inv.o);
    obj_cleanup(&inv);
    return err;
}

int sbx_sub_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                struct souk_errinfo *ei)
{
    struct obj s;
    int err = obj_load(tx, in->id, "subscription", &s, ei);

    if (err || !s.o)
        return err ? err : not_found(out, "subscription", in->id);
    if ((err = with_invoice(tx, in, s.o, ei))) {
        obj_cleanup(&s);
        return err;
    }
    json_decref(s.priv);
    return ok(out, s.o);
}

/* items[0][price_data][unit_amount] (a price change) and cancel_at_period_end. */
static json_t *sub_apply_update(const struct sbx_req *in, json_t *sub)
{
    const char *cancel = kv(in, "cancel_at_period_end");
    int64_t amount = kv_int(in, "items[0][price_data][unit_amount]", -1);
    json_t *prev = json_object(), *md = form_get_map(in->kv, in->n, "metadata");
    json_t *price = json_object_get(sub_item(sub), "price");

    if (cancel) {
        int v = strcmp(cancel, "true") == 0;
        json_object_set(prev, "cancel_at_period_end", json_object_get(sub, "cancel_at_period_end"));
        json_object_set_new(sub, "cancel_at_period_end", json_boolean(v));
        json_object_set(sub, "cancel_at",
                        v ? json_object_get(sub_item(sub), "current_period_end") : json_null());
    }
    if (amount > 0) {
        json_object_set_new(prev, "items", json_pack("{s:[{s:{s:O}}]}", "data", "price",
                                                     "unit_amount",
                                                     json_object_get(price, "unit_amount")));
        json_object_set_new(price, "unit_amount", json_integer(amount));
    }
    if (json_object_size(md)) {
        json_object_set(prev, "metadata", json_object_get(sub, "metadata"));
        json_object_update(json_object_get(sub, "metadata"), md);
    }
    json_decref(md);
    return prev;
}

int sbx_sub_update(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                   struct souk_errinfo *ei)
{
    struct obj s;
    json_t *prev;
    int err = obj_load(tx, in->id, "subscription", &s, ei);

    if (err || !s.o)
        return err ? err : not_found(out, "subscription", in->id);
    if (strcmp(s.state, "canceled") == 0) {
        obj_cleanup(&s);
        return sbx_error(out, 400, "invalid_request_error", "resource_missing", NULL,
                         "A canceled subscription can only update its cancellation_details "
                         "and metadata.");
    }
    prev = sub_apply_update(in, s.o);
    err = obj_put(tx, "subscription", s.state, s.o, s.priv, 0, ei);
    if (!err)
        err = emit(tx, "customer.subscription.updated", s.o, prev, ei);
    else
        json_decref(prev);
    json_decref(s.priv);
    if (err) {
        json_decref(s.o);
        return err;
    }
    return ok(out, s.o);
}

static int sub_end(struct db_conn *tx, struct obj *s, struct souk_errinfo *ei)
{
    json_object_set_new(s->o, "status", json_string("canceled"));
    json_object_set_new(s->o, "canceled_at", json_integer(now_s()));
    json_object_set_new(s->o, "ended_at", json_integer(now_s()));
    int err = obj_put(tx, "subscription", "canceled", s->o, s->priv, 0, ei);
    return err ? err : emit(tx, "customer.subscription.deleted", s->o, NULL, ei);
}

int sbx_sub_cancel(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                   struct souk_errinfo *ei)
{
    struct obj s;
    int err = obj_load(tx, in->id, "subscription", &s, ei);

    if (err || !s.o)
        return err ? err : not_found(out, "subscription", in->id);
    if (strcmp(s.state, "canceled") == 0) {
        obj_cleanup(&s);
        return not_found(out, "subscription", in->id); /* what Stripe answers */
    }
    if ((err = sub_end(tx, &s, ei))) {
        obj_cleanup(&s);
        return err;
    }
    json_decref(s.priv);
    return ok(out, s.o);
}

int sbx_event_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                  struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx, "SELECT payload FROM sandbox_events WHERE id = $1",
                       DB_PARAMS(DBT(in->id)), &r, ei);

    if (!err && db_nrows(r) == 1)
        ok(out, json_loads(db_get(r, 0, 0), 0, NULL));
    else if (!err)
        not_found(out, "event", in->id);
    db_res_free(r);
    return err;
}

/* ---- renewals ------------------------------------------------------------------------ */

/* One billing attempt at period end (or a dunning retry). */
static int renew_charge(struct db_conn *tx, struct obj *s, struct souk_errinfo *ei)
{
    json_t *item = sub_item(s->o);
    int64_t start = json_integer_value(json_object_get(item, "current_period_end"));
    int64_t end = start + period_s();
    const char *card = json_string_value(json_object_get(s->priv, "card"));
    int fails = !strcmp(card, CARD_RENEWAL_FAILS) || !strcmp(card, CARD_3DS);
    int tries = (int)json_integer_value(json_object_get(s->priv, "failures")) + 1;
    json_t *inv = invoice_new(s->o, "subscription_cycle", start, end, !fails, tries);
    json_t *prev = json_pack("{s:O}", "status", json_object_get(s->o, "status"));
    int err;

    json_object_set(s->o, "latest_invoice", json_object_get(inv, "id"));
    if (!fails) {
        json_object_set_new(prev, "items", json_pack("{s:[{s:O, s:O}]}", "data",
                                                     "current_period_start", json_object_get(item, "current_period_start"),
                                                     "current_period_end", json_object_get(item, "current_period_end")));
        json_object_set_new(item, "current_period_start", json_integer(start));
        json_object_set_new(item, "current_period_end", json_integer(end));
        json_object_set_new(s->o, "status", json_string("active"));
        json_object_set_new(s->priv, "failures", json_integer(0));
    } else {
        json_object_set_new(s->o, "status", json_string("past_due"));
        json_object_set_new(s->priv, "failures", json_integer(tries));
        if (tries < SANDBOX_DUNNING_TRIES)
            json_object_set_new(inv, "next_payment_attempt",
                                json_integer(now_s() + (period_s() + 2) / 3));
    }
    err = obj_put(tx, "invoice", fails ? "open" : "paid", inv, NULL, 1, ei);
    if (!err)
        err = obj_put(tx, "subscription", json_string_value(json_object_get(s->o, "status")),
                      s->o, s->priv, 0, ei);
    if (!err)
        err = emit(tx, fails ? "invoice.payment_failed" : "invoice.paid", inv, NULL, ei);
    if (!err)
        err = emit(tx, "customer.subscription.updated", s->o, prev, ei);
    else
        json_decref(prev);
    if (!err && !fails)
        err = schedule_renewal(tx, s->o, end, ei);
    else if (!err && tries < SANDBOX_DUNNING_TRIES)
        err = schedule_renewal(tx, s->o, now_s() + (period_s() + 2) / 3, ei);
    else if (!err)
        err = sub_end(tx, s, ei);
    json_decref(inv);
    return err;
}

static int renew_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct obj s;
    int err = obj_load(tx, arg, "subscription", &s, ei);
    int64_t end;

    if (err || !s.o || strcmp(s.state, "canceled") == 0) {
        obj_cleanup(&s);
        return err;
    }
    end = json_integer_value(json_object_get(sub_item(s.o), "current_period_end"));
    if (end > now_s() && strcmp(s.state, "past_due")) /* a stale job */
        err = 0;
    else if (json_is_true(json_object_get(s.o, "cancel_at_period_end")))
        err = sub_end(tx, &s, ei);
    else
        err = renew_charge(tx, &s, ei);
    obj_cleanup(&s);
    return err;
}

static int job_renew(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(job->payload, "subscription"));
    if (!id)
        return souk_fail(ei, SOUK_PRECONDITION, "renewal job without subscription");
    return db_tx_run(db, renew_tx, (void *)id, ei);
}

static int expire_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct obj s = {0};
    int done = 0;
    int err = session_expire(tx, arg, &done, &s, ei);
    obj_cleanup(&s);
    return err;
}

static int job_expire(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(job->payload, "session"));
    if (!id)
        return souk_fail(ei, SOUK_PRECONDITION, "expiry job without session");
    return db_tx_run(db, expire_tx, (void *)id, ei);
}

/* ---- webhook delivery ------------------------------------------------------------------ */

static const char *webhook_url(char *buf, size_t n)
{
    const char *env = getenv("SOUK_SANDBOX_WEBHOOK_URL");
    const char *base = souk_cfg ? souk_cfg->public_url : "";
    size_t bl = strlen(base);

    if (env && *env)
        return env;
    if (bl && base[bl - 1] == '/')
        bl--;
    snprintf(buf, n, "%.*s/api/payments/webhooks/", (int)bl, base);
    return buf;
}

/* Stripe-Signature with a v1 for every secret in force (rotation). */
static void sign_all(const char *payload, char *out, size_t n)
{
    const char *list = payments_webhook_secret();
    char secret[256], one[STRIPE_SIG_HEADER_MAX];
    int64_t t = (int64_t)time(NULL);
    size_t len = 0;

    snprintf(out, n, "t=%lld", (long long)t);
    len = strlen(out);
    while (*list) {
        const char *end = strchr(list, ',');
        size_t sl = end ? (size_t)(end - list) : strlen(list);
        snprintf(secret, sizeof secret, "%.*s", (int)sl, list);
        if (secret[0]) {
            stripe_sig_make(secret, t, payload, strlen(payload), one);
            len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s", strchr(one, ','));
        }
        list += sl + (end ? 1 : 0);
    }
    sodium_memzero(secret, sizeof secret);
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static long post_event(const char *url, const char *payload)
{
    char sig[1024], hdr[1100];
    struct curl_slist *h = NULL;
    long status = 0;
    CURL *c = curl_easy_init();

    if (!c)
        return 0;
    sign_all(payload, sig, sizeof sig);
    snprintf(hdr, sizeof hdr, "Stripe-Signature: %s", sig);
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
    h = curl_slist_append(h, "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}

struct deliver {
    const char *id;
    char *payload; /* malloc'd */
};

static int load_event(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct deliver *d = arg;
    struct db_res *r = NULL;
    int err = db_query(c, "SELECT payload FROM sandbox_events WHERE id = $1",
                       DB_PARAMS(DBT(d->id)), &r, ei);
    if (!err && db_nrows(r) == 1)
        d->payload = strdup(db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

static int mark_delivered(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct deliver *d = arg;
    return db_exec(c, "UPDATE sandbox_events SET attempts = attempts + 1, delivered_at = $2 "
                      "WHERE id = $1",
                   DB_PARAMS(DBT(d->id), DBI(clock_now_us())), NULL, ei);
}

static int job_deliver(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct deliver d = {json_string_value(json_object_get(job->payload, "event_id")), NULL};
    char buf[700];
    long status;
    int err;

    if (!d.id)
        return souk_fail(ei, SOUK_PRECONDITION, "delivery job without event_id");
    if ((err = db_run(db, load_event, &d, ei)) || !d.payload)
        return err;
    status = post_event(webhook_url(buf, sizeof buf), d.payload);
    free(d.payload);
    if (status < 200 || status >= 300)
        return souk_fail(ei, SOUK_UPSTREAM, "webhook endpoint answered %ld", status);
    return db_run(db, mark_delivered, &d, ei);
}

void sandbox_register_jobs(void)
{
    job_register(JOB_DELIVER, job_deliver, 8);
    job_register(JOB_EXPIRE, job_expire, 10);
    job_register(JOB_RENEW, job_renew, 10);
}

/* ---- the server ------------------------------------------------------------------------- */

int sandbox_start(struct db *db, struct souk_errinfo *ei)
{
    struct http_server_opts o = {
        .host = "127.0.0.1",
        .port = souk_cfg ? souk_cfg->sandbox_port : 0,
        .workers = 4,
        .max_body = 256 * 1024,
        .max_connections = 256,
        .shutdown_timeout = 5,
        .access_log = souk_cfg ? souk_cfg->access_log : 0,
        .db = db,
        .no_auth_hook = 1, /* Stripe keys, not souk tokens: sandbox_http.c checks them */
    };

    router = router_new();
    sandbox_http_register(router);
    server = http_server_start(&o, router, ei);
    if (!server) {
        router_free(router);
        router = NULL;
        return SOUK_INTERNAL;
    }
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", http_server_port(server));
    return 0;
}

void sandbox_stop(void)
{
    if (server)
        http_server_stop(server);
    if (router)
        router_free(router);
    server = NULL;
    router = NULL;
    base_url[0] = 0;
}

/* ---- Idempotency-Key storage (sandbox_idempotency) -------------------------- */

static int sbx_idem_find(struct db_conn *tx, const char *key, const char *fingerprint,
                         int *found, int *same, struct sbx_resp *out, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx, "SELECT request, status, body FROM sandbox_idempotency WHERE key = $1",
                       DB_PARAMS(DBT(key)), &r, ei);

    *found = !err && db_nrows(r) == 1;
    *same = *found && strcmp(db_get(r, 0, 0), fingerprint) == 0;
    if (*same) {
        out->status = (int)db_int(r, 0, 1);
        out->body = json_loads(db_get(r, 0, 2), 0, NULL);
    }
    db_res_free(r);
    return err;
}

/* Takes the key before the operation runs: a concurrent request with the
 * same key waits on the uncommitted row (PostgreSQL; SQLite serializes
 * writers anyway) and then fails with a unique violation, answered 409 like
 * Stripe's "in-progress request". Without this it could run the operation a
 * second time on what the first request had just committed. */
static int sbx_idem_claim(struct db_conn *tx, const char *key, const char *fingerprint,
                          struct souk_errinfo *ei)
{
    return db_exec(tx,
                   "INSERT INTO sandbox_idempotency (key, request, status, body, created_at) "
                   "VALUES ($1, $2, 0, '', 0)",
                   DB_PARAMS(DBT(key), DBT(fingerprint)), NULL, ei);
}

/* Keeps a 2xx answer for replay; anything else is forgotten (the key may be
 * used again), as Stripe does for requests that did not succeed. */
static int sbx_idem_settle(struct db_conn *tx, const char *key, const struct sbx_resp *out,
                           struct souk_errinfo *ei)
{
    char *text;
    int err;

    if (out->status < 200 || out->status > 299)
        return db_exec_later(tx, "DELETE FROM sandbox_idempotency WHERE key = $1",
                             DB_PARAMS(DBT(key)), ei);
    text = json_dumps(out->body, JSON_COMPACT);
    err = db_exec_later(tx, "UPDATE sandbox_idempotency SET status = $2, body = $3 WHERE key = $1",
                        DB_PARAMS(DBT(key), DBI(out->status), DBT(text)), ei);
    free(text);
    return err;
}

/* ---- one API call ------------------------------------------------------------------ */

struct call {
    sbx_op op;
    const struct sbx_req *in;
    const char *idem, *fingerprint;
    struct sbx_resp *out;
    int *replayed;
};

/* A stored answer for the key: replays it, or refuses a different request
 * under the same key. */
static int replay(struct db_conn *tx, struct call *c, int *found, struct souk_errinfo *ei)
{
    int same = 0;
    int err = sbx_idem_find(tx, c->idem, c->fingerprint, found, &same, c->out, ei);

    if (*found && !same)
        sbx_error(c->out, 400, "idempotency_error", NULL, NULL,
                  "Keys for idempotent requests can only be used with the same parameters "
                  "they were first used with.");
    else if (*found)
        *c->replayed = 1;
    return err;
}

static int call_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct call *c = arg;
    int found = 0, err;

    json_decref(c->out->body); /* a retried attempt starts over */
    memset(c->out, 0, sizeof *c->out);
    *c->replayed = 0;
    if (c->idem && ((err = replay(tx, c, &found, ei)) || found ||
                    (err = sbx_idem_claim(tx, c->idem, c->fingerprint, ei))))
        return err;
    if ((err = c->op(tx, c->in, c->out, ei)))
        return err;
    return c->idem ? sbx_idem_settle(tx, c->idem, c->out, ei) : 0;
}

int sbx_call(struct db *db, sbx_op op, const struct sbx_req *in, const char *idem,
             const char *fingerprint, struct sbx_resp *out, int *replayed,
             struct souk_errinfo *ei)
{
    struct call c = {op, in, idem, fingerprint, out, replayed};
    return db_tx_run(db, call_tx, &c, ei);
}

static int read_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct call *x = arg;
    return x->op(c, x->in, x->out, ei);
}

int sbx_read(struct db *db, sbx_op op, const struct sbx_req *in, struct sbx_resp *out,
             struct souk_errinfo *ei)
{
    struct call c = {.op = op, .in = in, .out = out};
    return db_run(db, read_fn, &c, ei);
}
