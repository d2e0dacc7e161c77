/* payments.c - the purpose registry, the payments ledger, checkout
 * sessions, refunds and subscription calls, and start-up.
 *
 * A checkout is two steps (see payments.h): payments_checkout_create
 * records the intent inside the caller's transaction (a pending row with
 * its amount, currency, parameters and an idempotency key derived from
 * purpose + object (+ payer, for per-payer objects) + attempt); payments_checkout_open then calls the
 * provider outside any transaction and records the session id, URL and
 * expiry before the URL is handed out. Calling open again after a crash
 * replays the same provider session (same idempotency key, same body).
 *
 * Thread safety: the registry is written at start-up only; everything else
 * keeps no state outside the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "payments/internal.h"
#include "core/str.h"

#define MAX_PURPOSES 32

static const struct payment_purpose *purposes[MAX_PURPOSES];
static int npurposes;
static char api_base[512];
static char sandbox_secret[80];
static char sandbox_key[80];

/* ---- registry ------------------------------------------------------------ */

void payments_register_purpose(const struct payment_purpose *p)
{
    for (int i = 0; i < npurposes; i++) {
        if (strcmp(purposes[i]->name, p->name) == 0) {
            purposes[i] = p;
            return;
        }
    }
    if (npurposes == MAX_PURPOSES) {
        log_error("payments: too many purposes, \"%s\" not registered", p->name);
        return;
    }
    purposes[npurposes++] = p;
}

const struct payment_purpose *payments_purpose(const char *name)
{
    for (int i = 0; name && i < npurposes; i++)
        if (strcmp(purposes[i]->name, name) == 0)
            return purposes[i];
    return NULL;
}

/* ---- configuration ------------------------------------------------------- */

int payments_is_sandbox(void)
{
    return !souk_cfg || strcmp(souk_cfg->payments, "stripe") != 0;
}

const char *payments_api_base(void)
{
    if (api_base[0])
        return api_base;
    return souk_cfg ? souk_cfg->stripe_api_base : "https://api.stripe.com";
}

/* The sandbox's secrets, when none are configured, are derived from
 * SOUK_SECRET_KEY so that every node of a cluster agrees on them. */
static void derive(const char *label, const char *prefix, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char m[crypto_auth_hmacsha256_BYTES];
    const char *key = souk_cfg ? souk_cfg->secret_key : "souk";
    char h[2 * 24 + 1];

    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, strlen(label));
    crypto_auth_hmacsha256_final(&st, m);
    for (int i = 0; i < 24; i++) {
        h[2 * i] = hex[m[i] >> 4];
        h[2 * i + 1] = hex[m[i] & 15];
    }
    h[48] = 0;
    snprintf(out, outsz, "%s%s", prefix, h);
}

const char *payments_webhook_secret(void)
{
    if (souk_cfg && souk_cfg->stripe_webhook_secret[0])
        return souk_cfg->stripe_webhook_secret;
    return sandbox_secret;
}

const char *stripe_secret_key(void)
{
    if (souk_cfg && souk_cfg->stripe_secret_key[0])
        return souk_cfg->stripe_secret_key;
    return sandbox_key;
}

/* ---- rows ------------------------------------------------------------------ */

void payment_row_read(const struct db_res *r, int i, struct payment_row *p)
{
    memset(p, 0, sizeof *p);
    str_copy(p->id, sizeof p->id, db_get(r, i, 0));
    str_copy(p->user_id, sizeof p->user_id, db_get(r, i, 1));
    str_copy(p->purpose, sizeof p->purpose, db_get(r, i, 2));
    str_copy(p->object_id, sizeof p->object_id, db_get(r, i, 3));
    str_copy(p->mode, sizeof p->mode, db_get(r, i, 4));
    str_copy(p->currency, sizeof p->currency, db_get(r, i, 5));
    str_copy(p->status, sizeof p->status, db_get(r, i, 6));
    str_copy(p->idempotency_key, sizeof p->idempotency_key, db_get(r, i, 7));
    str_copy(p->session_id, sizeof p->session_id, db_get(r, i, 8));
    str_copy(p->payment_intent, sizeof p->payment_intent, db_get(r, i, 9));
    str_copy(p->subscription_id, sizeof p->subscription_id, db_get(r, i, 10));
    str_copy(p->customer_id, sizeof p->customer_id, db_get(r, i, 11));
    str_copy(p->checkout_url, sizeof p->checkout_url, db_get(r, i, 12));
    p->attempt = (int)db_int(r, i, 13);
    p->amount = db_int(r, i, 14);
    p->amount_refunded = db_int(r, i, 15);
    p->expires_at = db_int(r, i, 16);
    p->status_event_at = db_int(r, i, 17);
    p->created_at = db_int(r, i, 18);
    p->spec = json_loads(db_get(r, i, 19) ? db_get(r, i, 19) : "{}", 0, NULL);
}

void payment_row_cleanup(struct payment_row *p)
{
    json_decref(p->spec);
    p->spec = NULL;
}

int payment_row_find(struct db_conn *c, const char *column, const char *value,
                     struct payment_row *out, struct souk_errinfo *ei)
{
    char sql[512];
    struct db_res *r = NULL;
    int err;

    if (!value || !*value || (strcmp(column, "id") == 0 && !uuid_valid(value)))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such payment");
    snprintf(sql, sizeof sql, "SELECT " PAYMENT_COLS " FROM payments WHERE %s = $1", column);
    if ((err = db_query(c, sql, DB_PARAMS(DBT(value)), &r, ei)))
        return err;
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "no such payment");
    }
    payment_row_read(r, 0, out);
    db_res_free(r);
    return 0;
}

/* API.md's history statuses are pending|succeeded|failed|refunded: a checkout
 * that expired unpaid is shown as failed, with the precise state beside it. */
json_t *payment_row_json(const struct payment_row *p)
{
    const char *api_status = strcmp(p->status, "expired") == 0 ? "failed" : p->status;

    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", p->id,
                     "purpose", p->purpose, "object_id", p->object_id, "amount",
                     money_to_json(p->amount), "currency", p->currency, "status", api_status,
                     "state", p->status, "amount_refunded", money_to_json(p->amount_refunded),
                     "mode", p->mode, "expires_at",
                     json_time_or_null(p->expires_at, p->expires_at == 0), "created_at",
                     json_time(p->created_at));
}

/* ---- ledger ---------------------------------------------------------------- */

int payments_ledger_add(struct db_conn *tx, const char *payment_id, const char *kind,
                        const char *provider_id, int64_t amount, const char *currency,
                        const char *status, int64_t *added, struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];

    uuid_v7(id);
    return db_exec(tx,
                   "INSERT INTO payment_ledger (id, payment_id, kind, provider_id, amount, "
                   "currency, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                   "ON CONFLICT (kind, provider_id) DO NOTHING",
                   DB_PARAMS(DBT(id), DBT(payment_id), DBT(kind), DBT(provider_id), DBI(amount),
                             DBT(currency), DBT(status), DBI(clock_now_us())),
                   added, ei);
}

/* Refunded money has two witnesses: our own refund call (payments_refund)
 * and the provider's charge.refunded, whose amount_refunded is cumulative.
 * Either may come first, and either may come several times at once, so the
 * booking is driven by the cumulative total: one conditional UPDATE raises
 * payments.amount_refunded (never lowers it), and only the caller whose
 * UPDATE moved it writes a ledger line, for the difference between the new
 * total and what the ledger already holds. That keeps the invariant
 * "sum of refund lines == amount_refunded".
 *
 * Concurrency: on PostgreSQL the UPDATE takes the payment's row lock, so the
 * SUM that follows sees every line booked by those who held it before; on
 * SQLite write transactions are serialized anyway. */
int payments_refund_book(struct db_conn *tx, const char *payment_id, int64_t cumulative,
                         const char *ledger_key, const char *currency, const char *status,
                         int64_t *booked, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int64_t moved = 0, booked_before;
    int err = db_exec(tx,
                      "UPDATE payments SET amount_refunded = $2, status = CASE WHEN $2 >= amount "
                      "THEN 'refunded' ELSE status END, updated_at = $3 WHERE id = $1 AND "
                      "amount_refunded < $2",
                      DB_PARAMS(DBT(payment_id), DBI(cumulative), DBI(clock_now_us())), &moved,
                      ei);

    if (booked)
        *booked = 0;
    if (err || moved == 0)
        return err; /* already counted (by a concurrent caller or by the event) */
    err = db_query(tx,
                   "SELECT COALESCE(SUM(amount), 0) FROM payment_ledger WHERE payment_id = $1 "
                   "AND kind = 'refund'",
                   DB_PARAMS(DBT(payment_id)), &r, ei);
    if (err)
        return err;
    booked_before = db_int(r, 0, 0);
    db_res_free(r);
    if (booked)
        *booked = cumulative - booked_before;
    /* The key cannot have been used: the total only grows and each key
     * belongs to one total, so a conflict here would be a bug upstream. */
    return payments_ledger_add(tx, payment_id, "refund", ledger_key, cumulative - booked_before,
                               currency, status, NULL, ei);
}

/* ---- checkout: step 1, inside the caller's transaction --------------------- */

static int spec_check(const struct checkout_spec *s, struct souk_errinfo *ei)
{
    const char *mode = s->mode ? s->mode : "payment";

    if (!payments_purpose(s->purpose))
        return souk_fail(ei, SOUK_INVALID, "unknown payment purpose");
    if (!s->object_id || !*s->object_id || strlen(s->object_id) > 64)
        return souk_fail(ei, SOUK_INVALID, "checkout: bad object id");
    if (s->per_payer && (!s->user_id || !*s->user_id || strlen(s->user_id) > 64))
        return souk_fail(ei, SOUK_INVALID, "checkout: a per-payer checkout needs its payer");
    if (strcmp(mode, "payment") && strcmp(mode, "subscription"))
        return souk_fail(ei, SOUK_INVALID, "checkout: mode must be payment or subscription");
    if (s->unit_amount <= 0 || s->unit_amount > MONEY_MAX || s->quantity < 0 ||
        s->quantity > 1000)
        return souk_fail(ei, SOUK_INVALID, "checkout: amount out of range");
    if (s->currency && !currency_valid(s->currency))
        return souk_fail(ei, SOUK_INVALID, "checkout: bad currency");
    if (strcmp(mode, "subscription") == 0 &&
        (!s->interval || (strcmp(s->interval, "day") && strcmp(s->interval, "week") &&
                          strcmp(s->interval, "month") && strcmp(s->interval, "year"))))
        return souk_fail(ei, SOUK_INVALID, "checkout: subscription needs an interval");
    return 0;
}

static char *abs_url(const char *path, const char *fallback)
{
    const char *base = souk_cfg ? souk_cfg->public_url : "http://127.0.0.1:8000";
    char *out;
    size_t bl = strlen(base);

    if (bl && base[bl - 1] == '/')
        bl--;
    if (asprintf(&out, "%.*s%s", (int)bl, base, path ? path : fallback) < 0)
        abort();
    return out;
}

static json_t *spec_json(const struct checkout_spec *s, int64_t expires_s)
{
    char *ok = abs_url(s->success_path, "/api/payments/history/");
    char *cancel = abs_url(s->cancel_path, "/api/payments/history/");
    json_t *j = json_pack(
        "{s:s, s:I, s:i, s:s, s:s, s:s?, s:i, s:s?, s:s, s:s, s:I, s:O?}", "mode",
        s->mode ? s->mode : "payment", "unit_amount", (json_int_t)s->unit_amount, "quantity",
        s->quantity ? s->quantity : 1, "currency", s->currency ? s->currency : "usd",
        "product_name", s->product_name ? s->product_name : s->purpose, "interval",
        s->interval, "interval_count", s->interval_count ? s->interval_count : 1,
        "customer_email", s->customer_email, "success_url", ok, "cancel_url", cancel,
        "expires_at", (json_int_t)expires_s, "metadata", s->metadata);
    free(ok);
    free(cancel);
    return j;
}

/* Fills out from an existing row (a repeated create for the same attempt). */
static void session_from_row(const struct payment_row *p, struct checkout_session *out)
{
    memset(out, 0, sizeof *out);
    str_copy(out->payment_id, sizeof out->payment_id, p->id);
    str_copy(out->session_id, sizeof out->session_id, p->session_id);
    str_copy(out->url, sizeof out->url, p->checkout_url);
    str_copy(out->currency, sizeof out->currency, p->currency);
    out->expires_at = p->expires_at;
    out->amount = p->amount;
}

static int insert_intent(struct db_conn *tx, const struct checkout_spec *s, const char *key,
                         struct checkout_session *out, struct souk_errinfo *ei)
{
    int ttl = s->ttl_seconds > 0 ? s->ttl_seconds
                                 : (souk_cfg ? souk_cfg->checkout_ttl_seconds : 1800);
    int64_t now = clock_now_us(), expires_s = now / 1000000 + ttl;
    int64_t total = s->unit_amount * (s->quantity ? s->quantity : 1);
    json_t *spec = spec_json(s, expires_s);
    char *spec_text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    int err;

    memset(out, 0, sizeof *out);
    uuid_v7(out->payment_id);
    str_copy(out->currency, sizeof out->currency, s->currency ? s->currency : "usd");
    out->amount = total;
    out->expires_at = expires_s * 1000000;
    err = db_exec_later(tx,
                        "INSERT INTO payments (id, user_id, purpose, object_id, attempt, mode, "
                        "amount, currency, idempotency_key, spec, expires_at, created_at, "
                        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                        "$12)",
                        DB_PARAMS(DBT(out->payment_id), DBT(s->user_id), DBT(s->purpose),
                                  DBT(s->object_id), DBI(s->attempt),
                                  DBT(s->mode ? s->mode : "payment"), DBI(total),
                                  DBT(out->currency), DBT(key), DBT(spec_text),
                                  DBI(out->expires_at), DBI(now)),
                        ei);
    free(spec_text);
    json_decref(spec);
    return err;
}

/* The checkout's identity (payments.h, "Idempotency"). */
static void checkout_key(const struct checkout_spec *s, char key[200])
{
    if (s->per_payer)
        snprintf(key, 200, "souk-checkout-%s-%s-%s-%d", s->purpose, s->object_id, s->user_id,
                 s->attempt);
    else
        snprintf(key, 200, "souk-checkout-%s-%s-%d", s->purpose, s->object_id, s->attempt);
}

int payments_checkout_create(struct db_conn *tx, const struct checkout_spec *s,
                             struct checkout_session *out, struct souk_errinfo *ei)
{
    struct payment_row p;
    char key[200];
    int err;

    if ((err = spec_check(s, ei)))
        return err;
    checkout_key(s, key);
    err = payment_row_find(tx, "idempotency_key", key, &p, ei);
    if (err == 0) {
        session_from_row(&p, out);
        payment_row_cleanup(&p);
        return 0;
    }
    if (err != SOUK_NOT_FOUND)
        return err;
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof *ei);
    return insert_intent(tx, s, key, out, ei);
}

/* ---- checkout: step 2, the provider call ------------------------------------ */

static void add_metadata(struct form *f, const char *prefix, const struct payment_row *p)
{
    char key[128];
    json_t *extra = json_object_get(p->spec, "metadata");

    form_add_map(f, prefix, extra);
    snprintf(key, sizeof key, "%s[souk_payment_id]", prefix);
    form_add(f, key, p->id);
    snprintf(key, sizeof key, "%s[purpose]", prefix);
    form_add(f, key, p->purpose);
    snprintf(key, sizeof key, "%s[object_id]", prefix);
    form_add(f, key, p->object_id);
}

static const char *spec_str(const struct payment_row *p, const char *k)
{
    return json_string_value(json_object_get(p->spec, k));
}

static int64_t spec_int(const struct payment_row *p, const char *k)
{
    return json_integer_value(json_object_get(p->spec, k));
}

/* Stripe refuses a session that expires less than 30 minutes after its
 * creation. Against Stripe the session lives at least 31 minutes (35 from
 * the intent, so that a retry of the open minutes later still qualifies);
 * souk's own expiry job (order.expire and the like) closes it at the
 * provider when the purpose's shorter TTL ends. The sandbox takes any TTL.
 * Derived from the row alone: a replay sends the same bytes. */
#define PROVIDER_MIN_TTL_S (35 * 60)

static int64_t provider_expires_at(const struct payment_row *p)
{
    int64_t want = spec_int(p, "expires_at"), floor_s = p->created_at / 1000000 + PROVIDER_MIN_TTL_S;

    return (payments_is_sandbox() || want >= floor_s) ? want : floor_s;
}

/* The Checkout Session body for a recorded intent (always the same bytes for
 * the same row, so a replay matches the first request). */
static void session_form(const struct payment_row *p, struct form *f)
{
    int sub = strcmp(p->mode, "subscription") == 0;
    char ok[PAYMENTS_URL_MAX + 64];

    form_add(f, "mode", p->mode);
    snprintf(ok, sizeof ok, "%s%ssession_id={CHECKOUT_SESSION_ID}", spec_str(p, "success_url"),
             strchr(spec_str(p, "success_url"), '?') ? "&" : "?");
    form_add(f, "success_url", ok);
    form_add(f, "cancel_url", spec_str(p, "cancel_url"));
    form_add(f, "client_reference_id", p->id);
    form_add(f, "customer_email", spec_str(p, "customer_email"));
    form_add_int(f, "expires_at", provider_expires_at(p));
    form_add(f, "line_items[0][price_data][currency]", p->currency);
    form_add_int(f, "line_items[0][price_data][unit_amount]", spec_int(p, "unit_amount"));
    form_add(f, "line_items[0][price_data][product_data][name]", spec_str(p, "product_name"));
    if (sub) {
        form_add(f, "line_items[0][price_data][recurring][interval]", spec_str(p, "interval"));
        form_add_int(f, "line_items[0][price_data][recurring][interval_count]",
                     spec_int(p, "interval_count"));
    }
    form_add_int(f, "line_items[0][quantity]", spec_int(p, "quantity"));
    add_metadata(f, "metadata", p);
    add_metadata(f, sub ? "subscription_data[metadata]" : "payment_intent_data[metadata]", p);
}

struct record_args {
    const char *payment_id, *session_id, *url;
    int64_t expires_at;
};

static int record_session(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct record_args *a = arg;
    int64_t n = 0;
    int err = db_exec(tx,
                      "UPDATE payments SET session_id = $2, checkout_url = $3, expires_at = $4, "
                      "updated_at = $5 WHERE id = $1 AND (session_id IS NULL OR session_id = $2)",
                      DB_PARAMS(DBT(a->payment_id), DBT(a->session_id), DBT(a->url),
                                DBI(a->expires_at), DBI(clock_now_us())),
                      &n, ei);
    if (!err && n != 1)
        err = souk_fail(ei, SOUK_CONFLICT, "payment already has another session");
    return err;
}

static int load_row(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct payment_row *p = arg;
    return payment_row_find(c, "id", p->id, p, ei);
}

/* Reads the session the provider answered and records it. */
static int session_record(struct db *db, const struct payment_row *p, const json_t *s,
                          struct checkout_session *cs, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *url = json_string_value(json_object_get(s, "url"));
    int64_t exp = json_integer_value(json_object_get(s, "expires_at")) * 1000000;
    struct record_args a = {p->id, id, url, exp ? exp : p->expires_at};

    if (!id || !url || strlen(id) >= PAYMENTS_ID_MAX || strlen(url) >= PAYMENTS_URL_MAX)
        return souk_fail(ei, SOUK_UPSTREAM, "payment provider: session without id or url");
    int err = db_run(db, record_session, &a, ei); /* one statement: no BEGIN/COMMIT */
    if (err)
        return err;
    str_copy(cs->session_id, sizeof cs->session_id, id);
    str_copy(cs->url, sizeof cs->url, url);
    cs->expires_at = a.expires_at;
    return 0;
}

/* One provider call for the session of cs->payment_id (none when it is
 * recorded already); *purpose (may be NULL) receives the row's purpose. */
static int open_once(struct db *db, struct checkout_session *cs, char purpose[48],
                     struct souk_errinfo *ei)
{
    struct payment_row p = {0};
    struct form f;
    json_t *s = NULL;
    int err;

    str_copy(p.id, sizeof p.id, cs->payment_id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err;
    if (purpose)
        str_copy(purpose, 48, p.purpose);
    session_from_row(&p, cs);
    if (p.session_id[0] && p.checkout_url[0]) {
        payment_row_cleanup(&p);
        return 0;
    }
    form_init(&f);
    session_form(&p, &f);
    err = stripe_call("POST", "/v1/checkout/sessions", &f, p.idempotency_key, &s, ei);
    form_cleanup(&f);
    if (!err)
        err = session_record(db, &p, s, cs, ei);
    json_decref(s);
    payment_row_cleanup(&p);
    return err;
}

/* ---- an open whose outcome is unknown, asked again ------------------------------------
 * A timed-out or cut-off create may have made the session at the provider:
 * nothing is given up. The job payments.checkout_open asks again with the
 * same idempotency key (the provider replays the same session) with the
 * jobs' backoff, until a definite answer; then the purpose's on_opened
 * records the URL on its object. Should the object no longer want it
 * (cancelled meanwhile), the session is expired at the provider. A purpose
 * with reopens_itself (orders) runs its own job instead. */
#define JOB_CHECKOUT_OPEN "payments.checkout_open"
#define CHECKOUT_OPEN_FIRST_US (2 * INT64_C(1000000))
#define CHECKOUT_OPEN_ATTEMPTS 8

static int reopen_enqueue_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    const char *payment_id = arg;
    char key[96];
    json_t *j = json_pack("{s:s}", "payment_id", payment_id);
    int err;

    snprintf(key, sizeof key, "%s:%s", JOB_CHECKOUT_OPEN, payment_id);
    err = job_enqueue(tx, JOB_CHECKOUT_OPEN, j, clock_now_us() + CHECKOUT_OPEN_FIRST_US, key,
                      NULL, ei);
    json_decref(j);
    return err;
}

int payments_checkout_open(struct db *db, struct checkout_session *cs, struct souk_errinfo *ei)
{
    char purpose[48] = "";
    int err = open_once(db, cs, purpose, ei);
    const struct payment_purpose *pp = err ? payments_purpose(purpose) : NULL;

    if (err && payments_outcome_unknown(ei) && pp && !pp->reopens_itself) {
        struct souk_errinfo e2 = {0};
        if (db_tx_run(db, reopen_enqueue_tx, cs->payment_id, &e2))
            log_warn("payment %s: queueing the checkout retry: %s", cs->payment_id, e2.detail);
        souk_errinfo_cleanup(&e2);
    }
    return err;
}

struct opened_args {
    const struct payment_purpose *pp;
    const struct checkout_session *cs;
};

static int opened_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct opened_args *x = arg;
    return x->pp->on_opened(tx, x->cs, ei);
}

/* After a definite answer: the URL onto the purpose's object, or, when the
 * object is gone or no longer pending, the session closed at the provider. */
static int reopened(struct db *db, const char *purpose, const struct checkout_session *cs,
                    struct souk_errinfo *ei)
{
    const struct payment_purpose *pp = payments_purpose(purpose);
    struct opened_args x = {pp, cs};
    int err = pp && pp->on_opened ? db_tx_run(db, opened_tx, &x, ei) : 0;

    if (err == SOUK_PRECONDITION) {
        log_info("payment %s: opened after its %s was given up; expiring it", cs->payment_id,
                 purpose);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = payments_checkout_expire(db, cs->payment_id, ei);
    }
    return err;
}

static int job_checkout_open(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = json_string_value(json_object_get(job->payload, "payment_id"));
    struct checkout_session cs = {0};
    struct payment_row p = {0};
    char purpose[48] = "";
    int err;

    if (!id)
        return souk_fail(ei, SOUK_PRECONDITION, "%s", "bad payload");
    str_copy(p.id, sizeof p.id, id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err == SOUK_NOT_FOUND ? 0 : err;
    int pending = strcmp(p.status, "pending") == 0;
    payment_row_cleanup(&p);
    if (!pending)
        return 0; /* settled meanwhile (paid through a replayed session, expired) */
    str_copy(cs.payment_id, sizeof cs.payment_id, id);
    err = open_once(db, &cs, purpose, ei);
    if (err && !payments_outcome_unknown(ei)) {
        /* a definite refusal: the object keeps no URL; the job goes dead where
         * staff see it (the console's jobs), its error kept */
        log_warn("payment %s: the provider refused the checkout: %s", id, ei->detail);
        return err == SOUK_UPSTREAM ? SOUK_PRECONDITION : err;
    }
    return err ? err : reopened(db, purpose, &cs, ei); /* unknown again: later, same key */
}

struct create_args {
    const struct checkout_spec *spec;
    struct checkout_session *out;
};

static int create_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct create_args *a = arg;
    return payments_checkout_create(tx, a->spec, a->out, ei);
}

int payments_checkout_start(struct db *db, const struct checkout_spec *s,
                            struct checkout_session *out, struct souk_errinfo *ei)
{
    struct create_args a = {s, out};
    int err = db_tx_run(db, create_tx, &a, ei);
    return err ? err : payments_checkout_open(db, out, ei);
}

struct for_args {
    const struct payment_purpose *purpose;
    const char *user_id, *object_id;
    const json_t *body;
    struct arena *a;
    struct checkout_session *cs;
};

static int for_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct for_args *x = arg;
    struct checkout_spec spec = {0};
    int err = x->purpose->prepare(tx, x->a, x->user_id, x->object_id, x->body, &spec, ei);

    if (err)
        return err;
    spec.purpose = x->purpose->name;
    if (!spec.object_id) /* prepare may name the object it charges for */
        spec.object_id = x->object_id;
    spec.user_id = x->user_id;
    return payments_checkout_create(tx, &spec, x->cs, ei);
}

int payments_checkout_for(struct db *db, const struct payment_purpose *purpose,
                          const char *user_id, const char *object_id, const json_t *body,
                          struct arena *a, struct checkout_session *out,
                          struct souk_errinfo *ei)
{
    struct for_args x = {purpose, user_id, object_id, body, a, out};
    int err = db_tx_run(db, for_tx, &x, ei);
    return err ? err : payments_checkout_open(db, out, ei);
}

int payments_sandbox_pay(struct db *db, const char *payment_id, struct souk_errinfo *ei)
{
    struct payment_row p = {0};
    int err;

    if (!payments_is_sandbox())
        return souk_fail(ei, SOUK_PRECONDITION, "%s", "Only the built-in sandbox pays by itself.");
    str_copy(p.id, sizeof p.id, payment_id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err;
    err = p.session_id[0] ? sandbox_pay_session(db, p.session_id, ei)
                          : souk_fail(ei, SOUK_PRECONDITION, "%s", "No checkout session yet.");
    payment_row_cleanup(&p);
    return err;
}

int payments_outcome_unknown(const struct souk_errinfo *ei)
{
    const char *o = ei ? json_string_value(json_object_get(ei->extra, "provider_outcome")) : NULL;
    return o && strcmp(o, "unknown") == 0;
}

int payments_checkout_expire(struct db *db, const char *payment_id, struct souk_errinfo *ei)
{
    struct payment_row p = {0};
    char path[256], key[256];
    json_t *s = NULL;
    int err;

    str_copy(p.id, sizeof p.id, payment_id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err;
    if (!p.session_id[0]) {
        payment_row_cleanup(&p);
        return 0; /* never opened: nothing to expire at the provider */
    }
    snprintf(path, sizeof path, "/v1/checkout/sessions/%s/expire", p.session_id);
    snprintf(key, sizeof key, "souk-expire-%s", p.session_id);
    err = stripe_call("POST", path, NULL, key, &s, ei);
    json_decref(s);
    payment_row_cleanup(&p);
    return err;
}

/* ---- refunds ------------------------------------------------------------------ */

struct refund_args {
    struct payment_row *p;
    const char *refund_id, *status, *reason;
    int64_t amount;
};

/* The refund we just made, booked once. Every concurrent caller of the same
 * logical refund got the same provider refund (same idempotency key) and
 * asks for the same cumulative total; the charge.refunded event of that
 * refund may also have been applied already. payments_refund_book raises the
 * total only when it is below, so whoever comes second books nothing. */
static int record_refund(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct refund_args *a = arg;
    int64_t cumulative = a->p->amount_refunded + a->amount;

    return payments_refund_book(tx, a->p->id, cumulative, a->refund_id, a->p->currency,
                                a->status, NULL, ei);
}

static int refund_call(struct refund_args *a, json_t **out, struct souk_errinfo *ei)
{
    const char *reason = a->reason;
    char key[256];
    struct form f;
    int err;

    /* One logical refund: `amount` on top of the total refunded so far, both
     * from one read of the row, so callers who saw the same state share the
     * provider's refund (and one who saw a later state asks for another). */
    snprintf(key, sizeof key, "souk-refund-%s-%lld-%lld", a->p->id,
             (long long)a->p->amount_refunded, (long long)a->amount);
    form_init(&f);
    form_add(&f, "payment_intent", a->p->payment_intent);
    form_add_int(&f, "amount", a->amount);
    /* Stripe knows three reasons; any other text travels as metadata. */
    if (reason && (!strcmp(reason, "duplicate") || !strcmp(reason, "fraudulent") ||
                   !strcmp(reason, "requested_by_customer")))
        form_add(&f, "reason", reason);
    else
        form_add(&f, "metadata[reason]", reason);
    form_add(&f, "metadata[souk_payment_id]", a->p->id);
    err = stripe_call("POST", "/v1/refunds", &f, key, out, ei);
    form_cleanup(&f);
    return err;
}

/* ---- a refund whose outcome is unknown, asked again ---------------------------------------
 * The provider may have made it: the job payments.refund_retry asks again for
 * the same logical refund (the amounts it was keyed on, the same idempotency
 * key), so it exists exactly once at the provider. It books nothing itself:
 * the provider's charge.refunded books it and lets the purpose act (an order
 * becomes refunded), as for a refund made outside souk. */
#define JOB_REFUND_RETRY "payments.refund_retry"
#define REFUND_RETRY_FIRST_US (2 * INT64_C(1000000))
#define REFUND_RETRY_ATTEMPTS 8

static int refund_retry_enqueue_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    const struct refund_args *a = arg;
    char key[160];
    json_t *j = json_pack("{s:s, s:I, s:I, s:s?}", "payment_id", a->p->id, "before",
                          (json_int_t)a->p->amount_refunded, "amount", (json_int_t)a->amount,
                          "reason", a->reason);
    int err;

    snprintf(key, sizeof key, "%s:%s:%lld:%lld", JOB_REFUND_RETRY, a->p->id,
             (long long)a->p->amount_refunded, (long long)a->amount);
    err = job_enqueue(tx, JOB_REFUND_RETRY, j, clock_now_us() + REFUND_RETRY_FIRST_US, key, NULL,
                      ei);
    json_decref(j);
    return err;
}

static int job_refund_retry(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const json_t *pl = job->payload;
    const char *id = json_string_value(json_object_get(pl, "payment_id"));
    int64_t before = json_integer_value(json_object_get(pl, "before"));
    struct payment_row p = {0};
    struct refund_args a = {.p = &p, .amount = json_integer_value(json_object_get(pl, "amount")),
                            .reason = json_string_value(json_object_get(pl, "reason"))};
    json_t *re = NULL;
    int err;

    if (!id || a.amount <= 0)
        return souk_fail(ei, SOUK_PRECONDITION, "%s", "bad payload");
    str_copy(p.id, sizeof p.id, id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err == SOUK_NOT_FOUND ? 0 : err;
    if (p.amount_refunded < before + a.amount) {
        p.amount_refunded = before; /* the state the refund was keyed on */
        err = refund_call(&a, &re, ei);
        if (err && !payments_outcome_unknown(ei)) {
            log_warn("payment %s: the provider refused the refund: %s", id, ei->detail);
            err = err == SOUK_UPSTREAM ? SOUK_PRECONDITION : err;
        }
    }
    json_decref(re);
    payment_row_cleanup(&p);
    return err; /* unknown again: later, same key; done: charge.refunded books it */
}

int payments_refund(struct db *db, const char *payment_id, int64_t amount, const char *reason,
                    struct souk_errinfo *ei)
{
    struct payment_row p = {0};
    struct refund_args a = {.p = &p};
    json_t *re = NULL;
    int err;

    str_copy(p.id, sizeof p.id, payment_id);
    if ((err = db_run(db, load_row, &p, ei)))
        return err;
    a.amount = amount ? amount : p.amount - p.amount_refunded;
    if (strcmp(p.status, "succeeded") || !p.payment_intent[0])
        err = souk_fail(ei, SOUK_PRECONDITION, "only a succeeded payment can be refunded");
    else if (a.amount <= 0 || a.amount > p.amount - p.amount_refunded)
        err = souk_fail(ei, SOUK_PRECONDITION, "refund exceeds what remains of the payment");
    a.reason = reason;
    if (!err && (err = refund_call(&a, &re, ei)) && payments_outcome_unknown(ei)) {
        struct souk_errinfo e2 = {0};
        if (db_tx_run(db, refund_retry_enqueue_tx, &a, &e2))
            log_warn("payment %s: queueing the refund retry: %s", p.id, e2.detail);
        souk_errinfo_cleanup(&e2);
    }
    if (!err) {
        a.refund_id = json_string_value(json_object_get(re, "id"));
        a.status = json_string_value(json_object_get(re, "status"));
        if (!a.refund_id || !a.status || !strcmp(a.status, "failed") ||
            !strcmp(a.status, "canceled"))
            err = souk_fail(ei, SOUK_UPSTREAM, "payment provider did not accept the refund");
        else
            err = db_tx_run(db, record_refund, &a, ei);
    }
    json_decref(re);
    payment_row_cleanup(&p);
    return err;
}

/* ---- subscriptions at the provider ------------------------------------------ */

static int64_t sub_period(const json_t *sub, const char *field)
{
    const json_t *items = json_object_get(json_object_get(sub, "items"), "data");
    const json_t *v = json_object_get(json_array_get(items, 0), field);

    if (!json_is_integer(v)) /* API versions before 2025-03-31: on the subscription */
        v = json_object_get(sub, field);
    return json_integer_value(v) * 1000000;
}

static void sub_read(const json_t *s, struct payment_subscription *out)
{
    const json_t *inv = json_object_get(s, "latest_invoice");

    memset(out, 0, sizeof *out);
    str_copy(out->id, sizeof out->id, json_string_value(json_object_get(s, "id")));
    str_copy(out->status, sizeof out->status, json_string_value(json_object_get(s, "status")));
    out->cancel_at_period_end = json_is_true(json_object_get(s, "cancel_at_period_end"));
    out->current_period_start = sub_period(s, "current_period_start");
    out->current_period_end = sub_period(s, "current_period_end");
    if (json_is_object(inv)) {
        str_copy(out->latest_invoice, sizeof out->latest_invoice,
            json_string_value(json_object_get(inv, "id")));
        str_copy(out->latest_invoice_status, sizeof out->latest_invoice_status,
            json_string_value(json_object_get(inv, "status")));
    } else {
        str_copy(out->latest_invoice, sizeof out->latest_invoice, json_string_value(inv));
    }
}

static int sub_path(const char *sub_id, char *path, size_t n, struct souk_errinfo *ei)
{
    if (!sub_id || !*sub_id || strlen(sub_id) >= PAYMENTS_ID_MAX || strchr(sub_id, '/') ||
        strchr(sub_id, '?'))
        return souk_fail(ei, SOUK_INVALID, "bad subscription id");
    snprintf(path, n, "/v1/subscriptions/%s", sub_id);
    return 0;
}

/* A fresh key per logical update: the client reuses it across its retries. */
static void op_key(const char *op, char key[80])
{
    char u[UUID_STR_LEN];
    uuid_v7(u);
    snprintf(key, 80, "souk-%s-%s", op, u);
}

int payments_subscription_retrieve(const char *sub_id, struct payment_subscription *out,
                                   struct souk_errinfo *ei)
{
    char path[256];
    json_t *s = NULL;
    int err = sub_path(sub_id, path, sizeof path, ei);

    if (!err) {
        strcat(path, "?expand[0]=latest_invoice");
        err = stripe_call("GET", path, NULL, NULL, &s, ei);
    }
    if (!err)
        sub_read(s, out);
    json_decref(s);
    return err;
}

int payments_subscription_set_cancel(const char *sub_id, int cancel_at_period_end,
                                     struct payment_subscription *out, struct souk_errinfo *ei)
{
    char path[256], key[80];
    struct form f;
    json_t *s = NULL;
    int err = sub_path(sub_id, path, sizeof path, ei);

    if (err)
        return err;
    op_key("sub-cancel-flag", key);
    form_init(&f);
    form_add_bool(&f, "cancel_at_period_end", cancel_at_period_end);
    err = stripe_call("POST", path, &f, key, &s, ei);
    form_cleanup(&f);
    if (!err && out)
        sub_read(s, out);
    json_decref(s);
    return err;
}

int payments_subscription_change_price(const char *sub_id, int64_t unit_amount,
                                       const char *product_name, struct souk_errinfo *ei)
{
    char path[256], key[80];
    struct form f;
    json_t *s = NULL, *done = NULL;
    int err = sub_path(sub_id, path, sizeof path, ei);

    if (!err)
        err = stripe_call("GET", path, NULL, NULL, &s, ei);
    if (err) {
        json_decref(s);
        return err;
    }
    const json_t *item = json_array_get(json_object_get(json_object_get(s, "items"), "data"), 0);
    const json_t *price = json_object_get(item, "price");
    const json_t *rec = json_object_get(price, "recurring");
    form_init(&f);
    form_add(&f, "items[0][id]", json_string_value(json_object_get(item, "id")));
    form_add(&f, "items[0][price_data][currency]",
             json_string_value(json_object_get(price, "currency")));
    form_add_int(&f, "items[0][price_data][unit_amount]", unit_amount);
    form_add(&f, "items[0][price_data][product]",
             json_string_value(json_object_get(price, "product")));
    form_add(&f, "items[0][price_data][recurring][interval]",
             json_string_value(json_object_get(rec, "interval")));
    form_add(&f, "metadata[product_name]", product_name);
    op_key("sub-price", key);
    err = stripe_call("POST", path, &f, key, &done, ei);
    form_cleanup(&f);
    json_decref(done);
    json_decref(s);
    return err;
}

int payments_subscription_cancel(const char *sub_id, struct payment_subscription *out,
                                 struct souk_errinfo *ei)
{
    char path[256];
    json_t *s = NULL;
    int err = sub_path(sub_id, path, sizeof path, ei);

    if (!err)
        err = stripe_call("DELETE", path, NULL, NULL, &s, ei);
    if (!err && out)
        sub_read(s, out);
    json_decref(s);
    return err;
}

/* ---- start-up ------------------------------------------------------------------ */

static int use_sandbox_base(void)
{
    const char *env = getenv("STRIPE_API_BASE");
    return payments_is_sandbox() && (!env || !*env);
}

int payments_init(struct db *db, struct souk_errinfo *ei)
{
    const char *t = getenv("SOUK_TEST_PAYMENTS");

    derive("sandbox-webhook-secret", "whsec_", sandbox_secret, sizeof sandbox_secret);
    derive("sandbox-secret-key", "sk_test_", sandbox_key, sizeof sandbox_key);
    if (stripe_client_init())
        return souk_fail(ei, SOUK_INTERNAL, "libcurl failed to initialise");
    payments_userdata_register();
    if (t && strcmp(t, "1") == 0) {
        const char *f = getenv("SOUK_TEST_FAIL_APPLY");
        payments_test_purpose_register();
        webhooks_test_fail_apply(f && strcmp(f, "1") == 0);
    }
    webhooks_register_jobs();
    job_register_provider(JOB_CHECKOUT_OPEN, job_checkout_open, CHECKOUT_OPEN_ATTEMPTS);
    job_register_provider(JOB_REFUND_RETRY, job_refund_retry, REFUND_RETRY_ATTEMPTS);
    if (!payments_is_sandbox()) {
        if (!souk_cfg->stripe_secret_key[0] || !souk_cfg->stripe_webhook_secret[0])
            return souk_fail(ei, SOUK_INVALID, "SOUK_PAYMENTS=stripe needs STRIPE_SECRET_KEY "
                                               "and STRIPE_WEBHOOK_SECRET");
        return 0;
    }
    sandbox_register_jobs();
    if (sandbox_start(db, ei))
        return ei->detail[0] ? SOUK_INTERNAL : souk_fail(ei, SOUK_INTERNAL, "sandbox failed");
    if (use_sandbox_base())
        snprintf(api_base, sizeof api_base, "%s", sandbox_base_url());
    log_json(LOG_INFO, "payments sandbox",
             json_pack("{s:s, s:s}", "api_base", payments_api_base(), "mode", "sandbox"));
    return 0;
}

void payments_shutdown(void)
{
    sandbox_stop();
    stripe_client_cleanup();
}
