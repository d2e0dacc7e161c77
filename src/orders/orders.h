/* orders.h - orders of service variants: stock reserved atomically, paid
 * through a checkout (payment purpose "order"), and a status machine whose
 * every step is recorded in the order history.
 *
 *   pending -> paid -> processing -> completed
 *   pending -> cancelled   (customer; checkout expired; checkout never opened)
 *   pending -> failed      (the provider reports the payment failed after
 *                           the checkout completed)
 *   paid | processing | completed -> refunded
 *   cancelled (expired) -> pending   (a new payment link, stock re-reserved)
 *
 * Stock is held exactly while an order is pending or in a paid state: the
 * transitions out of pending (cancel, expiry, failure) are conditional
 * updates `WHERE status = 'pending'`, and only the one that wins gives the
 * stock back, so it comes back exactly once whatever races. A payment that
 * lands on an order that is no longer payable is refunded by a job, once
 * (unique key per payment), and recorded in the history.
 *
 * Owns the tables orders and order_history (0007_catalog_orders.sql).
 * Strings in returned structs come from the arena passed in. Functions
 * taking a struct db run their own transactions. Thread-safe.
 */
#ifndef SOUK_ORDERS_H
#define SOUK_ORDERS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct keyset;
struct router;

#define ORDER_QUANTITY_MAX 1000

/* Who causes a transition (recorded in the history). */
struct order_actor {
    const char *kind;    /* customer | vendor | admin | system | provider */
    const char *user_id; /* NULL for system and provider */
};

struct order_event {
    const char *from; /* NULL for the creation */
    const char *to;
    const char *actor;
    const char *actor_id;
    const char *note;
    int64_t at;
};

struct order {
    char id[37];
    char customer_id[37];
    char vendor_id[37];      /* vendor profile */
    char vendor_user_id[37]; /* its owner */
    char service_id[37];
    char variant_id[37];
    const char *customer_email;
    const char *vendor_name;
    const char *service_name;
    const char *variant_name;
    int64_t unit_price;
    int quantity;
    int64_t total_amount;
    char currency[4];
    char status[16];
    const char *cancel_reason; /* NULL unless cancelled */
    int attempt;               /* checkout attempt (a new payment link bumps it) */
    char payment_id[37];       /* current checkout's payments row ("" none) */
    char paid_payment_id[37];
    const char *payment_url;   /* NULL until the checkout is open */
    int64_t checkout_expires_at;
    int64_t created_at, updated_at;
    int64_t variant_stock;     /* stock left now (-1: unknown) */
    struct order_event *history; /* oldest first, when asked for */
    int nhistory;
};

/* Places an order: reserves `quantity` by one conditional update, records a
 * checkout intent in the same transaction, then opens the checkout at the
 * provider after commit. SOUK_CONFLICT "out_of_stock", SOUK_NOT_FOUND (no
 * such variant), SOUK_UPSTREAM (the provider is unreachable: the order is
 * cancelled again at once and its stock returned). */
int orders_create(struct db *db, const char *customer_id, const char *variant_id, int quantity,
                  struct arena *a, struct order *out, struct souk_errinfo *ei);
/* One order (with its history when with_history). SOUK_NOT_FOUND. */
int orders_get(struct db *db, const char *id, int with_history, struct arena *a,
               struct order *out, struct souk_errinfo *ei);
/* Orders of a customer (customer_id) or of a vendor (vendor_user_id), newest
 * first, ks->limit rows at most. */
int orders_list(struct db *db, const char *customer_id, const char *vendor_user_id,
                const struct keyset *ks, struct arena *a, struct order **out, int *n,
                struct souk_errinfo *ei);

/* Transitions asked for by people. SOUK_PRECONDITION (invalid_state) when the
 * status does not allow it. */
int orders_cancel(struct db *db, const char *id, const struct order_actor *who,
                  struct arena *a, struct order *out, struct souk_errinfo *ei);
int orders_complete(struct db *db, const char *id, const struct order_actor *who,
                    struct arena *a, struct order *out, struct souk_errinfo *ei);
/* Refunds the paid amount through the provider, then -> refunded.
 * SOUK_UPSTREAM when the provider refuses. */
int orders_refund(struct db *db, const char *id, const struct order_actor *who,
                  struct arena *a, struct order *out, struct souk_errinfo *ei);
/* A fresh checkout for a pending order, or for one cancelled because its
 * checkout expired (back to pending, stock re-reserved: out_of_stock when
 * gone). */
int orders_payment_link(struct db *db, const char *id, const struct order_actor *who,
                        struct arena *a, struct order *out, struct souk_errinfo *ei);

/* Counts for other modules (vendor statistics): orders of a vendor profile
 * in a status (NULL: any). */
int orders_count_for_vendor(struct db *db, const char *vendor_id, const char *status,
                            int64_t *out, struct souk_errinfo *ei);

/* {id, customer_email, vendor_name, variant: {...}, quantity, total_amount,
 * currency, status, payment_method, payment_url, created_at, updated_at, ...}
 * (+ history when loaded). New reference. */
json_t *orders_to_json(const struct order *o);

/* Registers the payment purpose "order", the job kinds and the catalog's
 * ordered-check. Call before jobs_start and after payments_init. */
int orders_init(struct db *db, struct souk_errinfo *ei);
void orders_http_register(struct router *r);

/* ---- shared by orders.c, orders_pay.c, orders_http.c ------------------------ */
/* Loads an order inside a transaction (FOR UPDATE on PostgreSQL is not
 * needed: every change is a conditional update). */
int orders_load_tx(struct db_conn *tx, const char *id, struct arena *a, struct order *out,
                   struct souk_errinfo *ei);
/* status `from` -> `to` if the order is still in `from`; *moved = 1 when this
 * call made the change (then it is in the history and notified). */
int orders_transition_tx(struct db_conn *tx, struct order *o, const char *from, const char *to,
                         const struct order_actor *who, const char *note, int *moved,
                         struct souk_errinfo *ei);
/* pending -> to (cancelled | failed) and the stock goes back, only when this
 * call made the change. */
int orders_release_tx(struct db_conn *tx, struct order *o, const char *to,
                      const struct order_actor *who, const char *note, int *moved,
                      struct souk_errinfo *ei);
/* paid | processing | completed -> refunded if the order is in one of them;
 * an order refunded before it was completed returns its quantity to stock,
 * only when this call made the change. */
int orders_refunded_tx(struct db_conn *tx, struct order *o, const struct order_actor *who,
                       const char *note, int *moved, struct souk_errinfo *ei);
/* A history row that is not a status change (from = to = current status). */
int orders_note_tx(struct db_conn *tx, const struct order *o, const struct order_actor *who,
                   const char *note, struct souk_errinfo *ei);
/* Registers "order" with payments and the order job kinds (orders_pay.c). */
void orders_pay_register(void);
/* The checkout create's outcome is unknown (the provider did not answer in
 * time): a job asks again with the same idempotency key (orders_pay.c). */
int orders_checkout_retry_tx(struct db_conn *tx, const struct order *o, struct souk_errinfo *ei);
/* Opens a checkout created in a committed transaction and records its URL. */
int orders_checkout_open(struct db *db, struct order *o, struct arena *a,
                         struct souk_errinfo *ei);
/* Inside a transaction: a checkout intent for o's current attempt, recorded
 * on the order, with its expiry job. */
int orders_checkout_create_tx(struct db_conn *tx, struct order *o, struct souk_errinfo *ei);

extern const struct order_actor orders_actor_system;
extern const struct order_actor orders_actor_provider;

#endif
