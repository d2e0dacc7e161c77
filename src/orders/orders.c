/* orders.c - placing orders and moving them through their statuses (see
 * orders.h for the status machine). No HTTP here; the payment purpose and
 * the jobs live in orders_pay.c.
 *
 * Every change of status is orders_transition_tx: one conditional UPDATE
 * `WHERE id = $1 AND status = $from`, and only when it changed a row the
 * history row, the notifications and any stock movement follow, in the
 * same transaction. Two racing paths (a customer cancel and the expiry job,
 * say) can therefore never both win.
 *
 * Thread safety: no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "catalog/catalog.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/batch.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "orders/orders.h"
#include "payments/payments.h"
#include "db/keyset.h"
#include "userdata/userdata.h"
#include "users/users.h"
#include "vendors/vendors.h"
#include "core/str.h"

#define ORDER_COLS                                                                        \
    "id, customer_id, vendor_id, vendor_user_id, service_id, variant_id, customer_email, " \
    "vendor_name, service_name, variant_name, unit_price, quantity, total_amount, "        \
    "currency, status, cancel_reason, attempt, payment_id, paid_payment_id, payment_url, " \
    "checkout_expires_at, created_at, updated_at"

const struct order_actor orders_actor_system = {"system", NULL};
const struct order_actor orders_actor_provider = {"provider", NULL};

/* ---- rows ---------------------------------------------------------------------- */

static void row_to_order(const struct db_res *r, int i, struct arena *a, struct order *o)
{
    memset(o, 0, sizeof *o);
    str_copy(o->id, sizeof o->id, db_get(r, i, 0));
    str_copy(o->customer_id, sizeof o->customer_id, db_get(r, i, 1));
    str_copy(o->vendor_id, sizeof o->vendor_id, db_get(r, i, 2));
    str_copy(o->vendor_user_id, sizeof o->vendor_user_id, db_get(r, i, 3));
    str_copy(o->service_id, sizeof o->service_id, db_get(r, i, 4));
    str_copy(o->variant_id, sizeof o->variant_id, db_get(r, i, 5));
    o->customer_email = arena_strdup(a, db_get(r, i, 6));
    o->vendor_name = arena_strdup(a, db_get(r, i, 7));
    o->service_name = arena_strdup(a, db_get(r, i, 8));
    o->variant_name = arena_strdup(a, db_get(r, i, 9));
    o->unit_price = db_int(r, i, 10);
    o->quantity = (int)db_int(r, i, 11);
    o->total_amount = db_int(r, i, 12);
    str_copy(o->currency, sizeof o->currency, db_get(r, i, 13));
    str_copy(o->status, sizeof o->status, db_get(r, i, 14));
    o->cancel_reason = arena_strdup(a, db_get(r, i, 15));
    o->attempt = (int)db_int(r, i, 16);
    str_copy(o->payment_id, sizeof o->payment_id, db_get(r, i, 17));
    str_copy(o->paid_payment_id, sizeof o->paid_payment_id, db_get(r, i, 18));
    o->payment_url = arena_strdup(a, db_get(r, i, 19));
    o->checkout_expires_at = db_int(r, i, 20);
    o->created_at = db_int(r, i, 21);
    o->updated_at = db_int(r, i, 22);
    o->variant_stock = -1;
}

static int load_history(struct db_conn *c, struct arena *a, struct order *o,
                        struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT from_status, to_status, actor, actor_id, note, created_at FROM "
                       "order_history WHERE order_id = $1 ORDER BY created_at, id",
                       DB_PARAMS(DBT(o->id)), &r, ei);
    if (err)
        return err;
    o->nhistory = db_nrows(r);
    o->history = arena_calloc(a, (size_t)o->nhistory + 1, sizeof *o->history);
    for (int i = 0; i < o->nhistory; i++) {
        struct order_event *e = &o->history[i];
        e->from = arena_strdup(a, db_get(r, i, 0));
        e->to = arena_strdup(a, db_get(r, i, 1));
        e->actor = arena_strdup(a, db_get(r, i, 2));
        e->actor_id = arena_strdup(a, db_get(r, i, 3));
        e->note = arena_strdup(a, db_get(r, i, 4));
        e->at = db_int(r, i, 5);
    }
    db_res_free(r);
    return 0;
}

int orders_load_tx(struct db_conn *tx, const char *id, struct arena *a, struct order *out,
                   struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx, "SELECT " ORDER_COLS " FROM orders WHERE id = $1", DB_PARAMS(DBT(id)),
                       &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such order.");
    }
    row_to_order(r, 0, a, out);
    db_res_free(r);
    return catalog_stock_get_tx(tx, out->variant_id, &out->variant_stock, ei);
}

/* ---- transitions ---------------------------------------------------------------- */

static int history_add(struct db_conn *tx, const struct order *o, const char *from,
                       const char *to, const struct order_actor *who, const char *note,
                       struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];

    uuid_v7(id);
    return db_exec_later(tx,
                         "INSERT INTO order_history (id, order_id, from_status, to_status, actor, "
                         "actor_id, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         DB_PARAMS(DBT(id), DBT(o->id), DBT(from), DBT(to), DBT(who->kind),
                                   DBT(who->user_id), DBT(note), DBI(clock_now_us())),
                         ei);
}

/* order.updated to the customer and to the vendor. */
static int notify_both(struct db_conn *tx, const struct order *o, const char *from,
                       const char *note, struct souk_errinfo *ei)
{
    char total[MONEY_STR_LEN];
    json_t *p;
    int err;

    money_format(o->total_amount, total);
    p = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s}", "order_id", o->id, "status", o->status,
                  "previous_status", from, "note", note, "total_amount", total, "currency",
                  o->currency);
    err = notify(tx, o->customer_id, "order.updated", p, ei);
    if (!err)
        err = notify(tx, o->vendor_user_id, "order.updated", p, ei);
    json_decref(p);
    return err;
}

/* Money changes are audited in the transaction of the move: a confirmed
 * payment (-> paid: "payment.applied") and a refund (-> refunded:
 * "order.refund", whether asked through the API, the console or told by
 * the provider's charge.refunded). o->status is already the new status. */
static int audit_order(struct db_conn *tx, const struct order *o, const char *action,
                       const char *from, const struct order_actor *who, struct souk_errinfo *ei)
{
    const char *kind = who ? who->kind : "system";
    const char *role = !strcmp(kind, "admin")      ? "ADMIN"
                     : !strcmp(kind, "customer")   ? "CUSTOMER"
                     : !strcmp(kind, "vendor")     ? "VENDOR"
                                                   : NULL;
    struct audit_actor actor = {who ? who->user_id : NULL, role};
    json_t *before, *after;
    int err;

    before = json_pack("{s:s}", "status", from);
    after = json_pack("{s:s, s:o, s:s}", "status", o->status, "total_amount",
                      money_to_json(o->total_amount), "payment_id", o->paid_payment_id);
    err = audit_record(tx, role ? &actor : AUDIT_SYSTEM, action, "order", o->id, before, after,
                       NULL, ei);
    json_decref(before);
    json_decref(after);
    return err;
}

static int audit_money(struct db_conn *tx, const struct order *o, const char *from,
                       const struct order_actor *who, struct souk_errinfo *ei)
{
    const char *action = !strcmp(o->status, "refunded") ? "order.refund"
                       : !strcmp(o->status, "paid")     ? "payment.applied"
                                                        : NULL;
    return action ? audit_order(tx, o, action, from, who, ei) : 0;
}

int orders_transition_tx(struct db_conn *tx, struct order *o, const char *from, const char *to,
                         const struct order_actor *who, const char *note, int *moved,
                         struct souk_errinfo *ei)
{
    int ends = strcmp(to, "cancelled") == 0 || strcmp(to, "failed") == 0;
    int64_t n = 0, now = clock_now_us();
    int err = db_exec(tx,
                      "UPDATE orders SET status = $3, cancel_reason = $4, updated_at = $5 "
                      "WHERE id = $1 AND status = $2",
                      DB_PARAMS(DBT(o->id), DBT(from), DBT(to), DBT(ends ? note : NULL),
                                DBI(now)),
                      &n, ei);

    *moved = !err && n == 1;
    if (err || !*moved)
        return err;
    str_copy(o->status, sizeof o->status, to);
    o->cancel_reason = ends ? note : NULL;
    o->updated_at = now;
    if ((err = history_add(tx, o, from, to, who, note, ei)) ||
        (err = audit_money(tx, o, from, who, ei)))
        return err;
    return notify_both(tx, o, from, note, ei);
}

int orders_note_tx(struct db_conn *tx, const struct order *o, const struct order_actor *who,
                   const char *note, struct souk_errinfo *ei)
{
    return history_add(tx, o, o->status, o->status, who, note, ei);
}

/* pending -> to (cancelled | failed), and the stock goes back: the
 * conditional transition makes sure only one path ever does this. */
int orders_release_tx(struct db_conn *tx, struct order *o, const char *to,
                      const struct order_actor *who, const char *note, int *moved,
                      struct souk_errinfo *ei)
{
    int err = orders_transition_tx(tx, o, "pending", to, who, note, moved, ei);

    if (err || !*moved)
        return err;
    return catalog_stock_give_tx(tx, o->variant_id, o->quantity, &o->variant_stock, ei);
}

int orders_refunded_tx(struct db_conn *tx, struct order *o, const struct order_actor *who,
                       const char *note, int *moved, struct souk_errinfo *ei)
{
    static const char *const from[] = {"paid", "processing", "completed"};
    const char *was = NULL;
    int err = 0;

    *moved = 0;
    for (int i = 0; !err && !*moved && i < 3; i++) {
        err = orders_transition_tx(tx, o, from[i], "refunded", who, note, moved, ei);
        was = from[i];
    }
    if (err || !*moved || !strcmp(was, "completed")) /* the work was done: no stock back */
        return err;
    return catalog_stock_give_tx(tx, o->variant_id, o->quantity, &o->variant_stock, ei);
}

/* ---- placing an order --------------------------------------------------------------- */

/* One order of a variant's batch (db/batch.h). */
struct order_try {
    const char *customer_id, *customer_email, *variant_id;
    int quantity;
    const struct vendor_profile *vendor;
    struct arena *a;
    struct order *o;
    int err;                 /* this order's own refusal (out_of_stock, no such variant) */
    struct souk_errinfo *ei; /* and its detail */
};

static int insert_order(struct db_conn *tx, const struct order *o, struct souk_errinfo *ei)
{
    return db_exec_later(
        tx,
        "INSERT INTO orders (id, customer_id, vendor_id, vendor_user_id, service_id, variant_id, "
        "customer_email, vendor_name, service_name, variant_name, unit_price, quantity, "
        "total_amount, currency, status, attempt, created_at, updated_at) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending', 0, $15, $15)",
        DB_PARAMS(DBT(o->id), DBT(o->customer_id), DBT(o->vendor_id), DBT(o->vendor_user_id),
                  DBT(o->service_id), DBT(o->variant_id), DBT(o->customer_email),
                  DBT(o->vendor_name), DBT(o->service_name), DBT(o->variant_name),
                  DBI(o->unit_price), DBI(o->quantity), DBI(o->total_amount),
                  DBT(o->currency), DBI(o->created_at)),
        ei);
}

/* The rows of one order whose stock is taken (st). */
static int write_order(struct db_conn *tx, const struct order_try *t, const struct stock_take *st,
                       struct souk_errinfo *ei)
{
    struct order *o = t->o;
    int err;

    memset(o, 0, sizeof *o);
    uuid_v7(o->id);
    str_copy(o->customer_id, sizeof o->customer_id, t->customer_id);
    str_copy(o->vendor_id, sizeof o->vendor_id, t->vendor->id);
    str_copy(o->vendor_user_id, sizeof o->vendor_user_id, t->vendor->user_id);
    str_copy(o->service_id, sizeof o->service_id, st->service_id);
    str_copy(o->variant_id, sizeof o->variant_id, t->variant_id);
    o->customer_email = t->customer_email;
    o->vendor_name = t->vendor->business_name;
    o->service_name = st->service_name;
    o->variant_name = st->variant_name;
    o->unit_price = st->price;
    o->quantity = t->quantity;
    o->total_amount = st->price * t->quantity;
    str_copy(o->currency, sizeof o->currency, st->currency);
    str_copy(o->status, sizeof o->status, "pending");
    o->created_at = o->updated_at = clock_now_us();
    o->variant_stock = st->stock_left;
    if ((err = insert_order(tx, o, ei)) ||
        (err = history_add(tx, o, NULL, "pending",
                           &(struct order_actor){"customer", o->customer_id}, "placed", ei)) ||
        (err = orders_checkout_create_tx(tx, o, ei)))
        return err;
    return notify_both(tx, o, NULL, "placed", ei);
}

/* The orders of one variant's batch, in arrival order, in one transaction:
 * the first takes the row lock, the others find it held by their own
 * transaction. An order the stock cannot serve gets its own 409 (the
 * conditional update changes nothing, so the transaction goes on); any
 * other failure fails the batch. May run again on SOUK_RETRY: outcomes
 * are reset first. */
static int order_batch(struct db_conn *tx, void **args, int n, struct souk_errinfo *ei)
{
    for (int i = 0; i < n; i++) {
        struct order_try *t = args[i];
        t->err = 0;
        souk_errinfo_cleanup(t->ei);
        memset(t->ei, 0, sizeof *t->ei);
    }
    for (int i = 0; i < n; i++) {
        struct order_try *t = args[i];
        struct stock_take st;
        int err = catalog_stock_take_tx(tx, t->variant_id, t->quantity, t->a, &st, ei);

        if (err == SOUK_CONFLICT || err == SOUK_NOT_FOUND) {
            t->err = err; /* the refusal moves to the order's own errinfo */
            *t->ei = *ei;
            memset(ei, 0, sizeof *ei);
            continue;
        }
        if (!err && strcmp(st.vendor_id, t->vendor->id) != 0)
            err = souk_fail(ei, SOUK_RETRY, "the variant changed hands"); /* cannot happen */
        if (err || (err = write_order(tx, t, &st, ei)))
            return err;
    }
    return 0;
}

struct release_args {
    struct order *o;
    const char *to, *note;
    const struct order_actor *who;
    struct arena *a;
};

static int release_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct release_args *r = arg;
    int moved = 0;
    int err = orders_load_tx(tx, r->o->id, r->a, r->o, ei);

    return err ? err : orders_release_tx(tx, r->o, r->to, r->who, r->note, &moved, ei);
}

static int retry_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    return orders_checkout_retry_tx(tx, arg, ei);
}

static int customer_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct user *u = arg;
    return users_get(c, u->id, u, ei);
}

/* An order joins the batch of its variant: orders of the same variant that
 * arrive while one of its transactions is in flight are placed together by
 * the next one, each with its own answer; each request then opens its own
 * checkout after the commit. */
int orders_create(struct db *db, const char *customer_id, const char *variant_id, int quantity,
                  struct arena *a, struct order *out, struct souk_errinfo *ei)
{
    struct vendor_profile vendor;
    struct variant v;
    struct user u = {0};
    struct souk_errinfo mine = {0};
    char vendor_id[37], key[48];
    int err;

    /* Display facts first (who sells it, who buys); the stock itself is
     * only ever touched by the conditional update inside the transaction. */
    str_copy(u.id, sizeof u.id, customer_id);
    if ((err = catalog_variant_get(db, variant_id, a, &v, vendor_id, ei)) ||
        (err = vendors_get(db, vendor_id, a, &vendor, ei)) ||
        (err = db_run(db, customer_fn, &u, ei)))
        return err;
    struct order_try t = {customer_id, arena_strdup(a, u.email), v.id, quantity, &vendor, a,
                          out, 0, &mine};
    snprintf(key, sizeof key, "order:%s", v.id);
    err = batch_run(db, key, order_batch, &t, ei);
    if (!err && t.err) {
        souk_errinfo_cleanup(ei);
        *ei = mine;
        return t.err;
    }
    souk_errinfo_cleanup(&mine);
    if (err)
        return err;
    err = orders_checkout_open(db, out, a, ei);
    if (err && payments_outcome_unknown(ei)) {
        /* The provider may have created the session: keep the order and its
         * stock, and let a job ask again with the same key. The client gets
         * 502; the order shows its payment_url once the job succeeds. */
        struct souk_errinfo ei2 = {0};
        if (db_tx_run(db, retry_fn, out, &ei2))
            log_warn("order %s: queueing the checkout retry: %s", out->id, ei2.detail);
        souk_errinfo_cleanup(&ei2);
    } else if (err) {
        /* The provider refused or is unreachable: give the stock back now
         * rather than hold it for a checkout nobody can open. */
        struct souk_errinfo ei2 = {0};
        struct release_args r = {out, "cancelled", "checkout_failed", &orders_actor_system, a};
        if (db_tx_run(db, release_fn, &r, &ei2))
            log_warn("order %s: releasing after a failed checkout: %s", out->id, ei2.detail);
        souk_errinfo_cleanup(&ei2);
    }
    return err;
}

/* ---- reading ------------------------------------------------------------------------ */

struct get_args {
    const char *id;
    int with_history;
    struct arena *a;
    struct order *o;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;
    int err = orders_load_tx(c, g->id, g->a, g->o, ei);

    if (!err && g->with_history)
        err = load_history(c, g->a, g->o, ei);
    return err;
}

int orders_get(struct db *db, const char *id, int with_history, struct arena *a,
               struct order *out, struct souk_errinfo *ei)
{
    struct get_args g = {id, with_history, a, out};
    return db_run(db, get_fn, &g, ei);
}

struct list_args {
    const char *customer_id, *vendor_user_id;
    const struct keyset *ks;
    struct arena *a;
    struct order **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *l = arg;
    char where[160], order[160];
    struct db_res *r;
    const char *sql;
    int err;

    sql = arena_sprintf(l->a, "SELECT " ORDER_COLS " FROM orders WHERE %s = $1%s%s",
                        l->customer_id ? "customer_id" : "vendor_user_id",
                        keyset_where(l->ks, "created_at", "id", 2, where, sizeof where),
                        keyset_order(l->ks, "created_at", "id", order, sizeof order));
    struct db_param p[] = {DBT(l->customer_id ? l->customer_id : l->vendor_user_id),
                           DBI(l->ks->k), DBT(l->ks->id)};
    if ((err = db_query(c, sql, p, l->ks->has_cursor ? 3 : 1, &r, ei)))
        return err;
    *l->n = db_nrows(r);
    *l->out = arena_calloc(l->a, (size_t)*l->n + 1, sizeof **l->out);
    for (int i = 0; i < *l->n; i++)
        row_to_order(r, i, l->a, &(*l->out)[i]);
    db_res_free(r);
    for (int i = 0; i < *l->n && !err; i++)
        err = catalog_stock_get_tx(c, (*l->out)[i].variant_id, &(*l->out)[i].variant_stock, ei);
    return err;
}

int orders_list(struct db *db, const char *customer_id, const char *vendor_user_id,
                const struct keyset *ks, struct arena *a, struct order **out, int *n,
                struct souk_errinfo *ei)
{
    struct list_args l = {customer_id, vendor_user_id, ks, a, out, n};
    return db_run(db, list_fn, &l, ei);
}

struct count_args {
    const char *vendor_id, *status;
    int64_t *out;
};

static int count_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct count_args *ca = arg;
    struct db_res *r;
    int err = db_query(c,
                       "SELECT COUNT(*) FROM orders WHERE vendor_id = $1 AND "
                       "($2 IS NULL OR status = $2)",
                       DB_PARAMS(DBT(ca->vendor_id), DBT(ca->status)), &r, ei);
    if (!err)
        *ca->out = db_int(r, 0, 0);
    db_res_free(r);
    return err;
}

int orders_count_for_vendor(struct db *db, const char *vendor_id, const char *status,
                            int64_t *out, struct souk_errinfo *ei)
{
    struct count_args ca = {vendor_id, status, out};
    return db_run(db, count_fn, &ca, ei);
}

/* ---- transitions people ask for -------------------------------------------------------- */

struct act_args {
    const char *id;
    const struct order_actor *who;
    struct arena *a;
    struct order *o;
};

static int invalid_state(struct souk_errinfo *ei, const struct order *o, const char *what)
{
    return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                          "An order that is %s cannot be %s.", o->status, what);
}

static int cancel_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act_args *c = arg;
    json_t *p;
    int moved = 0, err = orders_load_tx(tx, c->id, c->a, c->o, ei);

    if (!err)
        err = orders_release_tx(tx, c->o, "cancelled", c->who, "customer", &moved, ei);
    if (!err && !moved)
        err = invalid_state(ei, c->o, "cancelled");
    if (err || !c->o->payment_id[0])
        return err;
    /* Close the checkout at the provider, so that it cannot be paid now. */
    p = json_pack("{s:s}", "payment_id", c->o->payment_id);
    err = job_enqueue(tx, "order.checkout_expire", p, 0, NULL, NULL, ei);
    json_decref(p);
    return err;
}

int orders_cancel(struct db *db, const char *id, const struct order_actor *who,
                  struct arena *a, struct order *out, struct souk_errinfo *ei)
{
    struct act_args c = {id, who, a, out};
    return db_tx_run(db, cancel_tx, &c, ei);
}

static int complete_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act_args *c = arg;
    int moved = 0, err = orders_load_tx(tx, c->id, c->a, c->o, ei);

    if (!err)
        err = orders_transition_tx(tx, c->o, "processing", "completed", c->who, NULL, &moved,
                                   ei);
    if (!err && !moved)
        err = invalid_state(ei, c->o, "completed");
    return err;
}

int orders_complete(struct db *db, const char *id, const struct order_actor *who,
                    struct arena *a, struct order *out, struct souk_errinfo *ei)
{
    struct act_args c = {id, who, a, out};
    return db_tx_run(db, complete_tx, &c, ei);
}

static int is_paid_state(const char *s)
{
    return !strcmp(s, "paid") || !strcmp(s, "processing") || !strcmp(s, "completed");
}

/* 1 when the order's move to refunded was the provider's (charge.refunded). */
static int moved_by_provider(struct db_conn *tx, const struct order *o, int *yes,
                             struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT actor FROM order_history WHERE order_id = $1 AND to_status = "
                       "'refunded' AND from_status <> 'refunded' ORDER BY created_at DESC LIMIT 1",
                       DB_PARAMS(DBT(o->id)), &r, ei);

    *yes = !err && db_nrows(r) == 1 && !strcmp(db_get(r, 0, 0), "provider");
    db_res_free(r);
    return err;
}

static int refunded_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act_args *c = arg;
    int by_provider = 0, moved = 0, err = orders_load_tx(tx, c->id, c->a, c->o, ei);

    if (!err)
        err = orders_refunded_tx(tx, c->o, c->who, "refunded", &moved, ei);
    if (!err && !moved && strcmp(c->o->status, "refunded") != 0)
        err = invalid_state(ei, c->o, "refunded");
    else if (!err && !moved && (err = moved_by_provider(tx, c->o, &by_provider, ei)) == 0 &&
             by_provider) {
        /* The provider's charge.refunded applied this very refund first (its
         * entry names the provider): who asked for it is recorded too. */
        err = orders_note_tx(tx, c->o, c->who, "refund_requested", ei);
        if (!err)
            err = audit_order(tx, c->o, "order.refund_request", "refunded", c->who, ei);
    }
    return err;
}

int orders_refund(struct db *db, const char *id, const struct order_actor *who,
                  struct arena *a, struct order *out, struct souk_errinfo *ei)
{
    struct act_args c = {id, who, a, out};
    int err = orders_get(db, id, 0, a, out, ei);

    if (err)
        return err;
    if (!is_paid_state(out->status) || !out->paid_payment_id[0])
        return invalid_state(ei, out, "refunded");
    /* The provider first (outside any transaction); the payments module
     * records the refund at once, so the later charge.refunded is a no-op. A
     * payment already refunded (a retry after a lost answer) is not an error:
     * the order only has to catch up. */
    err = payments_refund(db, out->paid_payment_id, 0, "requested_by_customer", ei);
    if (err == SOUK_PRECONDITION) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    }
    return err ? err : db_tx_run(db, refunded_tx, &c, ei);
}

/* ---- a fresh payment link ---------------------------------------------------------------- */

static int relink_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act_args *c = arg;
    struct order *o = c->o;
    struct stock_take st;
    char old_payment[37];
    int moved = 0, err = orders_load_tx(tx, c->id, c->a, o, ei);

    if (err)
        return err;
    str_copy(old_payment, sizeof old_payment, o->payment_id);
    if (!strcmp(o->status, "cancelled") && o->cancel_reason &&
        !strcmp(o->cancel_reason, "expired")) {
        /* Back to pending only if the stock can be had again. */
        if ((err = catalog_stock_take_tx(tx, o->variant_id, o->quantity, c->a, &st, ei)))
            return err;
        o->variant_stock = st.stock_left;
        if ((err = orders_transition_tx(tx, o, "cancelled", "pending", c->who, "payment_link",
                                        &moved, ei)))
            return err;
        if (!moved)
            return souk_fail(ei, SOUK_RETRY, "order changed under us");
    } else if (strcmp(o->status, "pending") != 0) {
        return invalid_state(ei, o, "paid again");
    }
    o->attempt++;
    err = db_exec(tx, "UPDATE orders SET attempt = $2 WHERE id = $1",
                  DB_PARAMS(DBT(o->id), DBI(o->attempt)), NULL, ei);
    if (!err)
        err = orders_checkout_create_tx(tx, o, ei);
    if (!err && old_payment[0]) {
        json_t *p = json_pack("{s:s}", "payment_id", old_payment);
        err = job_enqueue(tx, "order.checkout_expire", p, 0, NULL, NULL, ei);
        json_decref(p);
    }
    return err;
}

int orders_payment_link(struct db *db, const char *id, const struct order_actor *who,
                        struct arena *a, struct order *out, struct souk_errinfo *ei)
{
    struct act_args c = {id, who, a, out};
    int err = db_tx_run(db, relink_tx, &c, ei);

    if (!err && (err = orders_checkout_open(db, out, a, ei)) && payments_outcome_unknown(ei)) {
        /* as at creation: the new session may exist; the job asks again */
        struct souk_errinfo ei2 = {0};
        if (db_tx_run(db, retry_fn, out, &ei2))
            log_warn("order %s: queueing the checkout retry: %s", out->id, ei2.detail);
        souk_errinfo_cleanup(&ei2);
    }
    return err;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *history_json(const struct order *o)
{
    json_t *arr = json_array();

    for (int i = 0; i < o->nhistory; i++) {
        const struct order_event *e = &o->history[i];
        json_array_append_new(arr, json_pack("{s:s?, s:s, s:s, s:s?, s:s?, s:o}", "from",
                                             e->from, "to", e->to, "actor", e->actor,
                                             "actor_id", e->actor_id, "note", e->note, "at",
                                             json_time(e->at)));
    }
    return arr;
}

json_t *orders_to_json(const struct order *o)
{
    int pending = strcmp(o->status, "pending") == 0;
    json_t *variant = json_pack("{s:s, s:s, s:o}", "id", o->variant_id, "name", o->variant_name,
                                "price", money_to_json(o->unit_price));
    json_t *j;

    json_object_set_new(variant, "stock",
                        o->variant_stock >= 0 ? json_integer(o->variant_stock) : json_null());
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, s:o, s:s, s:s, s:s?, "
                  "s:s, s:o, s:o, s:o, s:o}",
                  "id", o->id, "customer_id", o->customer_id, "customer_email",
                  o->customer_email, "vendor_id", o->vendor_id, "vendor_name", o->vendor_name,
                  "service_id", o->service_id, "service_name", o->service_name, "variant_id",
                  o->variant_id, "variant", variant, "quantity", o->quantity, "total_amount",
                  money_to_json(o->total_amount), "currency", o->currency, "status", o->status,
                  "cancel_reason", o->cancel_reason, "payment_method", "stripe", "payment_url",
                  json_str_or_null(pending ? o->payment_url : NULL), "expires_at",
                  json_time_or_null(o->checkout_expires_at, !pending || !o->checkout_expires_at),
                  "created_at", json_time(o->created_at), "updated_at",
                  json_time(o->updated_at));
    if (o->history)
        json_object_set_new(j, "history", history_json(o));
    return j;
}

/* ---- start-up --------------------------------------------------------------------------- */

static int ordered_fn(struct db_conn *tx, const char *id, int by_service, int *ordered,
                      struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx,
                       by_service ? "SELECT 1 FROM orders WHERE service_id = $1 LIMIT 1"
                                  : "SELECT 1 FROM orders WHERE variant_id = $1 LIMIT 1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (!err)
        *ordered = db_nrows(r) > 0;
    db_res_free(r);
    return err;
}

static const struct userdata_part orders_part;

int orders_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    userdata_register(&orders_part);
    catalog_set_ordered_check(ordered_fn);
    orders_pay_register();
    return 0;
}

/* ---- the export and the erasure (userdata.h) ------------------------------------ */

#define ORDERS_EXPORT_MAX 10000

/* Orders as customer and as vendor, newest first. */
static int export_orders(struct db_conn *c, const struct userdata_who *w, json_t **out,
                         struct souk_errinfo *ei)
{
    struct db_res *r;
    struct order o;
    int err = db_query(c,
                       "SELECT " ORDER_COLS " FROM orders WHERE customer_id = $1 OR "
                       "vendor_user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                       DB_PARAMS(DBT(w->user_id), DBI(ORDERS_EXPORT_MAX)), &r, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++) {
        row_to_order(r, i, w->a, &o);
        json_array_append_new(*out, orders_to_json(&o));
    }
    db_res_free(r);
    return SOUK_OK;
}

/* A paid order neither completed nor refunded, as customer or vendor, blocks. */
static int check_orders(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    struct db_res *r;
    int n, err = db_query(c,
                          "SELECT 1 FROM orders WHERE (customer_id = $1 OR vendor_user_id = $1) "
                          "AND status IN ('paid', 'processing') LIMIT 1",
                          DB_PARAMS(DBT(w->user_id)), &r, ei);

    if (err)
        return err;
    n = db_nrows(r);
    db_res_free(r);
    return n ? souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              "A paid order is neither completed nor refunded yet.")
             : SOUK_OK;
}

/* Pending orders are cancelled (stock released); the rest stay, without the email. */
static int erase_orders(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    struct order_actor who = {"system", NULL};
    char email[64];
    struct db_res *r;
    int moved, err = db_query(c, "SELECT id FROM orders WHERE customer_id = $1 AND "
                                 "status = 'pending'",
                              DB_PARAMS(DBT(w->user_id)), &r, ei);

    for (int i = 0; !err && i < db_nrows(r); i++) {
        struct order o;
        if (!(err = orders_load_tx(c, db_get(r, i, 0), w->a, &o, ei)))
            err = orders_release_tx(c, &o, "cancelled", &who, "account erased", &moved, ei);
    }
    db_res_free(r);
    snprintf(email, sizeof email, "erased-%s@invalid", w->user_id);
    return err ? err
               : db_exec(c, "UPDATE orders SET customer_email = $2 WHERE customer_id = $1",
                         DB_PARAMS(DBT(w->user_id), DBT(email)), NULL, ei);
}

static const struct userdata_part orders_part = {.key = "orders",
                                                 .check = check_orders,
                                                 .export_fn = export_orders,
                                                 .erase = erase_orders,
                                                 .order = 300};
