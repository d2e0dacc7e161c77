/* internal.h - what the files of src/payments/ share with each other (and
 * with the unit tests and fuzz targets). Not for other domains: they use
 * payments.h. */
#ifndef SOUK_PAYMENTS_INTERNAL_H
#define SOUK_PAYMENTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include "core/err.h"
#include "payments/payments.h"

struct arena;
struct db;
struct db_conn;

/* The Stripe API version pinned for requests and produced by the sandbox
 * (the one stripe-node 23.1.0 pins; events.sample.json uses it too). */
#define STRIPE_API_VERSION "2026-10-28.endive"
#define STRIPE_SIG_TOLERANCE 300 /* seconds */

/* ---- signature.c ---------------------------------------------------------- */
#define STRIPE_SIG_MAX_V1 8
#define STRIPE_SIG_HEADER_MAX 128

struct stripe_sig {
    int64_t t;           /* -1 when missing */
    const char *t_text;  /* the digits as sent (they are what is signed) */
    size_t t_len;
    unsigned char v1[STRIPE_SIG_MAX_V1][32];
    int nv1;             /* well-formed v1 values kept */
    int any_v1;          /* a v1 item was present at all */
};

enum stripe_sig_result {
    STRIPE_SIG_OK = 0,
    STRIPE_SIG_NO_PAYLOAD,
    STRIPE_SIG_NO_HEADER,
    STRIPE_SIG_BAD_HEADER,
    STRIPE_SIG_NO_V1,
    STRIPE_SIG_NO_SECRET,
    STRIPE_SIG_MISMATCH,
    STRIPE_SIG_TOO_OLD
};

/* Parses a Stripe-Signature value; 0 when a valid `t` was found. */
int stripe_sig_parse(const char *header, struct stripe_sig *out);
/* Verifies against a comma-separated list of secrets (rotation); `now` in
 * Unix seconds; tolerance 0 disables the age check. */
enum stripe_sig_result stripe_sig_verify(const char *header, const char *body, size_t len,
                                         const char *secrets, int64_t now, int tolerance);
const char *stripe_sig_str(enum stripe_sig_result r);
/* "t=<t>,v1=<hex>" */
void stripe_sig_make(const char *secret, int64_t t, const char *body, size_t len,
                     char out[STRIPE_SIG_HEADER_MAX]);

/* ---- form.c --------------------------------------------------------------- */
struct form {
    char *buf; /* NUL-terminated */
    size_t len, cap;
};
void form_init(struct form *f);
void form_cleanup(struct form *f);
void form_add(struct form *f, const char *key, const char *value); /* NULL value: skipped */
void form_add_int(struct form *f, const char *key, int64_t v);
void form_add_bool(struct form *f, const char *key, int v);
void form_add_map(struct form *f, const char *prefix, const json_t *obj);

struct form_kv {
    const char *key, *value;
};
/* Decodes a body into (arena-allocated) pairs; returns how many. */
int form_parse(struct arena *a, const char *body, size_t len, struct form_kv **out);
const char *form_get(const struct form_kv *kv, int n, const char *key); /* last wins */
/* {k: v} of every `prefix[k]=v` (new reference). */
json_t *form_get_map(const struct form_kv *kv, int n, const char *prefix);

/* ---- stripe.c: the one client ---------------------------------------------
 * POSTs carry idem_key as Idempotency-Key (reused verbatim on every retry).
 * On 2xx returns 0 and *out (new reference). Otherwise a souk error:
 * SOUK_NOT_FOUND for 404, SOUK_UPSTREAM for everything else (refusals, and
 * network errors / 409 / 429 / 5xx once retries are exhausted), with
 * Stripe's error message in detail. */
int stripe_call(const char *method, const char *path, const struct form *body,
                const char *idem_key, json_t **out, struct souk_errinfo *ei);
int stripe_client_init(void);
/* stripe_loop.c: one exchange (a prepared easy handle) on the provider loop,
 * parking the calling fiber until it ends; curl_easy_perform off a fiber. */
CURLcode stripe_loop_perform(CURL *c);
/* Waits ms: parks a fiber on a loop timer, or sleeps a plain thread. */
void stripe_loop_sleep_ms(int64_t ms);
/* Ends the loop thread (stripe_client_cleanup). */
void stripe_loop_stop(void);
void stripe_client_cleanup(void);
const char *stripe_secret_key(void);

/* ---- sandbox.c: Stripe's state machine, on our database ------------------
 * Each operation runs inside the caller's transaction and answers like
 * Stripe: out->status and out->body (the object, or {"error": {...}}). */
int sandbox_start(struct db *db, struct souk_errinfo *ei);
void sandbox_stop(void);
const char *sandbox_base_url(void); /* "" when not running */
/* Pays the open session session_id with the test card 4242..., as the
 * hosted page would (payments_sandbox_pay). SOUK_PRECONDITION when the
 * sandbox refuses (not open, unknown). */
int sandbox_pay_session(struct db *db, const char *session_id, struct souk_errinfo *ei);
void sandbox_register_jobs(void);
struct router;
void sandbox_http_register(struct router *r); /* sandbox_http.c */

struct sbx_req {
    const struct form_kv *kv;
    int n;
    const char *id;     /* object id from the path */
    int expand_invoice; /* expand[]=latest_invoice */
    int for_page;       /* the hosted page: add _product and _interval */
};
struct sbx_resp {
    int status;
    json_t *body; /* new reference */
};
typedef int (*sbx_op)(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                      struct souk_errinfo *ei);
int sbx_session_create(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                       struct souk_errinfo *ei);
int sbx_session_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                    struct souk_errinfo *ei);
int sbx_session_expire(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                       struct souk_errinfo *ei);
int sbx_refund_create(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                      struct souk_errinfo *ei);
int sbx_sub_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                struct souk_errinfo *ei);
int sbx_sub_update(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                   struct souk_errinfo *ei);
int sbx_sub_cancel(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                   struct souk_errinfo *ei);
int sbx_event_get(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                  struct souk_errinfo *ei);
/* The hosted page: pays (or declines) session `id` with card_number.
 * out->status 303 (paid: out->body is {"redirect": url}), 402 (declined,
 * {"message"}), 404, 409 (not open), 400 (bad card number). */
int sbx_checkout_pay(struct db_conn *tx, const struct sbx_req *in, struct sbx_resp *out,
                     struct souk_errinfo *ei);
/* The card 4000002760003184 makes sbx_checkout_pay answer 200
 * {"authenticate": true}; this settles it with form field result=approve
 * (as sbx_checkout_pay's 303) or fail (402, the session stays open, with
 * payment_intent.payment_failed); 409 when nothing is pending. */
int sbx_checkout_authenticate(struct db_conn *tx, const struct sbx_req *in,
                              struct sbx_resp *out, struct souk_errinfo *ei);
/* Runs op in a transaction of its own. With idem (an Idempotency-Key; the
 * request's fingerprint beside it), the first 2xx answer is stored and a
 * replay gets it back (*replayed set); a different request under the same
 * key is answered 400 idempotency_error, and a concurrent one fails with
 * SOUK_CONFLICT (the caller answers Stripe's 409). */
int sbx_call(struct db *db, sbx_op op, const struct sbx_req *in, const char *idem,
             const char *fingerprint, struct sbx_resp *out, int *replayed,
             struct souk_errinfo *ei);
/* Runs a reading op (sbx_session_get) outside a transaction. */
int sbx_read(struct db *db, sbx_op op, const struct sbx_req *in, struct sbx_resp *out,
             struct souk_errinfo *ei);
/* A Stripe error body. Returns 0. */
int sbx_error(struct sbx_resp *out, int status, const char *type, const char *code,
              const char *param, const char *message);

/* ---- webhooks.c ------------------------------------------------------------ */
enum webhook_outcome {
    WEBHOOK_APPLIED = 0,
    WEBHOOK_DUPLICATE,
    WEBHOOK_IGNORED,   /* unknown type */
    WEBHOOK_REVIEW,    /* unmatched or mismatched: recorded, no state change */
    WEBHOOK_STALE,     /* older than what we know: recorded, no state change */
    WEBHOOK_DEFERRED   /* applying failed: recorded, retried by a job */
};
const char *webhook_outcome_str(enum webhook_outcome o);
/* Verifies, records in the inbox and applies one delivery. SOUK_INVALID
 * (code signature_invalid) for a bad signature or payload. */
int webhook_receive(struct db *db, const char *sig_header, const char *body, size_t len,
                    enum webhook_outcome *outcome, struct souk_errinfo *ei);
/* Reads an event envelope into ev (strings borrowed from `event`); used by
 * webhooks.c and the fuzz target. 0 ok, SOUK_INVALID when not an event. */
int webhook_event_read(const json_t *event, struct payment_event *ev, const char **type);
void webhooks_register_jobs(void);
/* Test hook (SOUK_TEST_FAIL_APPLY=1 with SOUK_TEST_PAYMENTS=1): the first
 * apply of every event fails inside its transaction. Call before serving. */
void webhooks_test_fail_apply(int on);

/* ---- payments.c ------------------------------------------------------------- */
void payments_register_jobs(void);
int payments_is_sandbox(void);
/* Ledger entry; unique on (kind, provider_id): a repeat is a no-op (0,
 * *added = 0). added may be NULL. */
int payments_ledger_add(struct db_conn *tx, const char *payment_id, const char *kind,
                        const char *provider_id, int64_t amount, const char *currency,
                        const char *status, int64_t *added, struct souk_errinfo *ei);
/* Raises payments.amount_refunded to `cumulative` (never lowers it) and
 * books the increase as one ledger line (kind "refund", provider id
 * ledger_key); a no-op when the total is already there. *booked (may be
 * NULL) gets the amount booked, 0 for a no-op. Run in a transaction. */
int payments_refund_book(struct db_conn *tx, const char *payment_id, int64_t cumulative,
                         const char *ledger_key, const char *currency, const char *status,
                         int64_t *booked, struct souk_errinfo *ei);
void payments_test_purpose_register(void);

/* A payments row (see 0004_payments.sql). */
struct payment_row {
    char id[37], user_id[37], purpose[48], object_id[80], mode[16], currency[4], status[16];
    char idempotency_key[200], session_id[PAYMENTS_ID_MAX], payment_intent[PAYMENTS_ID_MAX];
    char subscription_id[PAYMENTS_ID_MAX], customer_id[PAYMENTS_ID_MAX];
    char checkout_url[PAYMENTS_URL_MAX];
    int attempt;
    int64_t amount, amount_refunded, expires_at, status_event_at, created_at;
    json_t *spec; /* owned: json_decref (payment_row_cleanup) */
};
#define PAYMENT_COLS                                                                       \
    "id, user_id, purpose, object_id, mode, currency, status, idempotency_key, session_id, " \
    "payment_intent, subscription_id, customer_id, checkout_url, attempt, amount, "         \
    "amount_refunded, expires_at, status_event_at, created_at, spec"
struct db_res;
void payment_row_read(const struct db_res *r, int row, struct payment_row *out);
void payment_row_cleanup(struct payment_row *p);
/* Loads by a column: "id", "session_id", "payment_intent", "subscription_id".
 * SOUK_NOT_FOUND when absent. */
int payment_row_find(struct db_conn *c, const char *column, const char *value,
                     struct payment_row *out, struct souk_errinfo *ei);
json_t *payment_row_json(const struct payment_row *p);

/* Registers the payments part of the export (history.c). */
void payments_userdata_register(void);

#endif
