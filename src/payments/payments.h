/* payments.h - taking money: checkout sessions, refunds, subscriptions,
 * and the webhooks that tell us what happened.
 *
 * The provider is Stripe, spoken to by one client (stripe.c) over HTTP. In
 * SOUK_PAYMENTS=sandbox mode (the default) that client talks to a
 * Stripe-compatible sandbox served by this same process on a loopback port
 * (sandbox.c), so the same code path runs offline and in tests.
 *
 * Domains plug in through a *purpose* ("order", "subscription", "auction",
 * "recipe", ...): a table of callbacks registered once at start-up. A
 * purpose turns (user, object id) into a checkout_spec, and is told, inside
 * the transaction that applies a verified webhook event, that a payment of
 * its kind was paid, failed, expired, refunded, or that its subscription
 * changed. Callbacks run in that transaction: they must only touch the
 * database (emails and provider calls go to jobs) and must be idempotent
 * with respect to state (an event is applied at most once, but a later
 * event may repeat a fact).
 *
 * Money: int64 minor units; currency lower-case ISO 4217.
 * Time: microseconds since the epoch, like everything in souk.
 *
 * Thread safety: register purposes before the server starts (the registry
 * is read-only afterwards); every other function is thread-safe.
 */
#ifndef SOUK_PAYMENTS_H
#define SOUK_PAYMENTS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct router;
struct arena;

#define PAYMENTS_ID_MAX 128  /* provider ids (cs_..., pi_..., sub_...) */
#define PAYMENTS_URL_MAX 1024

/* What to charge for. Built by a purpose's prepare() or by a domain before
 * calling payments_checkout_create(). Strings are borrowed. */
struct checkout_spec {
    const char *purpose;        /* registered purpose name */
    const char *object_id;      /* the thing paid for (order id, subscription id, ...) */
    const char *user_id;        /* the payer (souk user id) */
    const char *mode;           /* "payment" (default when NULL) or "subscription" */
    int64_t unit_amount;        /* minor units, > 0 */
    int quantity;               /* 0 -> 1 */
    const char *currency;       /* NULL -> "usd" */
    const char *product_name;   /* shown on the checkout page */
    const char *interval;       /* subscription mode: day|week|month|year */
    int interval_count;         /* 0 -> 1 */
    const char *customer_email; /* prefill, optional */
    const char *success_path;   /* under SOUK_PUBLIC_URL, e.g. "/api/orders/<id>/success/" */
    const char *cancel_path;    /* idem; NULLs get a generic payments page */
    int attempt;                /* bump for a fresh checkout of the same object */
    int per_payer;              /* the object is sold to many payers: see "Idempotency" */
    int ttl_seconds;            /* 0 -> SOUK_CHECKOUT_TTL_SECONDS */
    const json_t *metadata;     /* extra string metadata (borrowed), optional */
};

/* A checkout session as recorded by payments_checkout_create/_open. */
struct checkout_session {
    char payment_id[37];                /* our ledger row */
    char session_id[PAYMENTS_ID_MAX];   /* cs_... (empty until opened) */
    char url[PAYMENTS_URL_MAX];         /* where to send the buyer */
    int64_t expires_at;                 /* microseconds */
    int64_t amount;                     /* total, minor units */
    char currency[4];
};

/* A verified, matched webhook event, as a purpose sees it. Strings point
 * into the event (valid during the callback); absent ones are NULL, absent
 * numbers 0. */
struct payment_event {
    const char *event_id;       /* evt_... */
    const char *type;           /* "checkout.session.completed", ... */
    int64_t created;            /* event creation, microseconds */
    const char *payment_id;     /* our payments row */
    const char *purpose;
    const char *object_id;
    const char *user_id;
    const char *mode;           /* payment | subscription */
    const char *session_id;     /* cs_... */
    const char *payment_intent; /* pi_... */
    const char *subscription;   /* sub_... */
    const char *invoice;        /* in_... */
    const char *charge;         /* ch_... */
    const char *customer;       /* cus_... */
    int64_t amount;             /* amount concerned by this event */
    const char *currency;
    int64_t amount_refunded;    /* charge.refunded: cumulative */
    int fully_refunded;         /* charge.refunded: refunded == true */
    const char *status;         /* the object's status (subscription status for subscriptions) */
    const char *billing_reason; /* invoices: subscription_create, subscription_cycle, ... */
    int cancel_at_period_end;   /* subscriptions */
    int64_t period_start;       /* subscriptions / invoices, microseconds (0 unknown) */
    int64_t period_end;
    int attempt_count;          /* invoice.payment_failed */
    int64_t next_attempt;       /* invoice.payment_failed: microseconds, 0 = no more tries */
    const char *failure_message;
    const json_t *object;       /* data.object, borrowed */
};

typedef int (*payment_event_fn)(struct db_conn *tx, const struct payment_event *ev,
                                struct souk_errinfo *ei);

struct payment_purpose {
    const char *name;
    /* In a transaction: check that the user (user_id) may pay for object_id and describe
     * the charge. The caller (POST /api/payments/checkout/) then sets
     * spec->purpose and spec->user_id, and spec->object_id to the request's
     * id unless prepare set it (to charge for another object it owns, e.g.
     * a row of its own made for this payer). Strings put in *out must live in `a` (the
     * request's arena) or be static. `body` is the request's JSON body.
     * Errors as usual (NOT_FOUND, PRECONDITION, ...). */
    int (*prepare)(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei);
    /* Paid: checkout.session.completed with payment_status=paid,
     * async_payment_succeeded, payment_intent.succeeded, and every
     * invoice.paid of a subscription (renewals: billing_reason tells). */
    payment_event_fn on_paid;
    /* payment_intent.payment_failed, async_payment_failed, invoice.payment_failed. */
    payment_event_fn on_failed;
    /* checkout.session.expired (the session was never paid). */
    payment_event_fn on_expired;
    /* charge.refunded. */
    payment_event_fn on_refunded;
    /* customer.subscription.created/updated/deleted (status, period, cancel flag). */
    payment_event_fn on_subscription;
    /* A checkout whose first open timed out (outcome unknown) was opened by
     * the job payments.checkout_open: record cs->url on the object, in tx.
     * SOUK_PRECONDITION when the object no longer wants it (cancelled
     * meanwhile): the session is then expired at the provider. NULL: the
     * URL lives in the payments row only (the client asks again). */
    int (*on_opened)(struct db_conn *tx, const struct checkout_session *cs,
                     struct souk_errinfo *ei);
    /* 1: the purpose retries an unknown open with its own job (orders, which
     * also hold stock for it); 0: payments.checkout_open does. */
    int reopens_itself;
    /* 1: on_paid writes its own audit entry "payment.applied" with the fields
     * it changed (orders); 0: payments writes one for every confirmed charge
     * applied (the first payment and each renewal), target_type the purpose's
     * name, target_id the object, actor null (the provider). */
    int audits_paid;
};

/* Registers a purpose (the struct must outlive the process; call before the
 * server starts). A second registration of the same name replaces the first. */
void payments_register_purpose(const struct payment_purpose *p);
const struct payment_purpose *payments_purpose(const char *name);

/* ---- checkout -----------------------------------------------------------
 * Idempotency. A checkout is identified by (purpose, object, attempt): its
 * key is "souk-checkout-<purpose>-<object>-<attempt>", the provider's
 * Idempotency-Key, so asking again for the same attempt gives back the same
 * row and the same provider session. Most objects have one payer (an
 * order, a subscription, an auction award). An object that many payers buy
 * on their own (a priced recipe) sets per_payer: the payer is then part of
 * the identity, "souk-checkout-<purpose>-<object>-<user>-<attempt>", so two
 * buyers of the same recipe never share a checkout, while object_id stays
 * the thing bought (history reads "recipe R" for every buyer of R) and the
 * attempt counts that payer's checkouts of it. Webhooks are matched by the
 * session id either way, never by object.
 *
 * Two steps, so that no provider round trip happens inside a transaction:
 *
 *   db_tx_run(... your changes ...; payments_checkout_create(tx, &spec, &cs))
 *   payments_checkout_open(db, &cs)      -- provider call, then records cs_...
 *
 * create records the intent (a pending payments row with its amount,
 * currency and a derived idempotency key); open calls the provider with
 * that key and records the session id, URL and expiry before returning, so
 * a crash between the two is repaired by calling open again (the provider
 * replays the same session). payments_checkout_start does both. */
int payments_checkout_create(struct db_conn *tx, const struct checkout_spec *s,
                             struct checkout_session *out, struct souk_errinfo *ei);
int payments_checkout_open(struct db *db, struct checkout_session *cs, struct souk_errinfo *ei);
int payments_checkout_start(struct db *db, const struct checkout_spec *s,
                            struct checkout_session *out, struct souk_errinfo *ei);
/* POST /api/payments/checkout/: the purpose's prepare for (user_id,
 * object_id, the request's body), the intent, and its session opened at the
 * provider. Strings of the spec live in `a`. */
int payments_checkout_for(struct db *db, const struct payment_purpose *purpose,
                          const char *user_id, const char *object_id, const json_t *body,
                          struct arena *a, struct checkout_session *out,
                          struct souk_errinfo *ei);
/* Whether a failed provider call may still have taken effect there: it timed
 * out or lost its connection after the request was sent. The problem body
 * then says "provider_outcome": "unknown"; the caller keeps what it holds.
 * payments_checkout_open has then queued payments.checkout_open, which asks
 * again with the same idempotency key (see on_opened), unless the purpose
 * reopens_itself. */
int payments_outcome_unknown(const struct souk_errinfo *ei);
/* Expires an open session at the provider (checkout.session.expired follows). */
int payments_checkout_expire(struct db *db, const char *payment_id, struct souk_errinfo *ei);

/* ---- after the payment ---------------------------------------------------
 * Refunds `amount` (0 = all that remains) of a succeeded payment. The
 * refund is recorded in the ledger at once; the later charge.refunded event
 * is then a no-op for the amount. Concurrent calls for the same payment and
 * amount share one provider refund (one idempotency key) and book it once,
 * whichever of them, or the charge.refunded event, comes first.
 * SOUK_UPSTREAM when the provider refuses. */
int payments_refund(struct db *db, const char *payment_id, int64_t amount, const char *reason,
                    struct souk_errinfo *ei);

/* Provider subscription as read back (reconciliation). */
struct payment_subscription {
    char id[PAYMENTS_ID_MAX];
    char status[32];
    int cancel_at_period_end;
    int64_t current_period_start, current_period_end; /* microseconds */
    char latest_invoice[PAYMENTS_ID_MAX];
    char latest_invoice_status[32];
};
int payments_subscription_retrieve(const char *sub_id, struct payment_subscription *out,
                                   struct souk_errinfo *ei);
/* cancel_at_period_end: 1 set, 0 undo. */
int payments_subscription_set_cancel(const char *sub_id, int cancel_at_period_end,
                                     struct payment_subscription *out, struct souk_errinfo *ei);
/* Changes the price of the subscription's first item (new unit amount,
 * same currency and interval); proration is left to the provider. */
int payments_subscription_change_price(const char *sub_id, int64_t unit_amount,
                                       const char *product_name, struct souk_errinfo *ei);
int payments_subscription_cancel(const char *sub_id, struct payment_subscription *out,
                                 struct souk_errinfo *ei);

/* ---- lifecycle ------------------------------------------------------------
 * payments_init after jobs are registered/started (it registers job kinds,
 * and in sandbox mode starts the sandbox server on 127.0.0.1). Registers
 * the "test" purpose when SOUK_TEST_PAYMENTS=1 (with SOUK_TEST_FAIL_APPLY=1
 * too, the first apply of every webhook event fails: see webhooks.c). */
int payments_init(struct db *db, struct souk_errinfo *ei);
void payments_shutdown(void);
/* POST /api/payments/checkout/, GET /api/payments/history/, the two webhook
 * routes, GET /api/admin/payments/events/. */
void payments_http_register(struct router *r);

/* `souk demo` only: pays the open checkout of payment_id at the built-in
 * sandbox with the test card 4242 4242 4242 4242, as a customer on the
 * hosted page would. The provider's events follow through the job queue and
 * the webhook like any other (they apply once a server runs the jobs).
 * SOUK_PRECONDITION outside sandbox mode or when the session is not open. */
int payments_sandbox_pay(struct db *db, const char *payment_id, struct souk_errinfo *ei);
/* Base URL the client talks to (the sandbox's in sandbox mode). */
const char *payments_api_base(void);
/* The webhook signing secret in force (configured, or the sandbox's derived one). */
const char *payments_webhook_secret(void);

#endif
