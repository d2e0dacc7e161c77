/* promotions.c - promotion products and buying, reading and cancelling
 * promotions (API.md § Home services). Payment, activation and the jobs
 * live in promotions_pay.c. See promotions.h.
 *
 * Thread safety: no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "payments/payments.h"
#include "projects/specialists.h"
#include "promotions/internal.h"
#include "promotions/promotions.h"

#define PRODUCT_COLS "product, target, price, currency, duration_days, is_active"

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

/* ---- products ---------------------------------------------------------------------------- */

static void row_to_product(const struct db_res *r, int i, struct promotion_product *p)
{
    copy(p->product, sizeof p->product, db_get(r, i, 0));
    copy(p->target, sizeof p->target, db_get(r, i, 1));
    p->price = db_int(r, i, 2);
    copy(p->currency, sizeof p->currency, db_get(r, i, 3));
    p->duration_days = (int)db_int(r, i, 4);
    p->is_active = db_bool(r, i, 5);
}

int promo_product_load(struct db_conn *c, const char *product, struct promotion_product *out,
                       struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c, "SELECT " PRODUCT_COLS " FROM promotion_products WHERE product = $1",
                       DB_PARAMS(DBT(product)), &r, ei);

    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such product.");
    if (!err)
        row_to_product(r, 0, out);
    db_res_free(r);
    return err;
}

struct products_args {
    struct promotion_product *out;
    int *n;
};

static int products_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct products_args *x = arg;
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT " PRODUCT_COLS " FROM promotion_products ORDER BY CASE product "
                       "WHEN 'TOP' THEN 1 WHEN 'DETAILED' THEN 2 ELSE 3 END",
                       DB_NOPARAMS, &r, ei);

    *x->n = 0;
    for (int i = 0; !err && i < db_nrows(r) && i < PROMOTION_PRODUCTS; i++)
        row_to_product(r, (*x->n)++, &x->out[i]);
    db_res_free(r);
    return err;
}

int promotions_products(struct db *db, struct promotion_product out[PROMOTION_PRODUCTS],
                        int *n, struct souk_errinfo *ei)
{
    struct products_args x = {out, n};
    return db_run(db, products_fn, &x, ei);
}

struct product_update_args {
    const struct audit_actor *actor;
    const char *product;
    const struct promotion_product_in *in;
    struct promotion_product *out;
};

/* The rules of a product change, for the API and the console alike. */
static int product_in_check(const struct promotion_product_in *in, struct souk_errinfo *ei)
{
    if (in->has_price && (in->price < 1 || in->price > MONEY_MAX)) {
        souk_errinfo_field(ei, "price", "A price above zero, with at most two decimals.");
        return souk_fail(ei, SOUK_INVALID, "%s", "The price must be above zero.");
    }
    if (in->has_duration &&
        (in->duration_days < 1 || in->duration_days > PROMOTION_DURATION_MAX_DAYS)) {
        souk_errinfo_field(ei, "duration_days", "From 1 to 3650 days.");
        return souk_fail(ei, SOUK_INVALID, "%s", "The duration must be from 1 to 3650 days.");
    }
    return SOUK_OK;
}

static int product_update_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct product_update_args *x = arg;
    const struct promotion_product_in *in = x->in;
    struct promotion_product before;
    int err = promo_product_load(c, x->product, &before, ei);

    if (err || (err = product_in_check(in, ei)))
        return err;
    err = db_exec(c,
                  "UPDATE promotion_products SET price = $2, duration_days = $3, is_active = $4, "
                  "updated_at = $5 WHERE product = $1",
                  DB_PARAMS(DBT(x->product), DBI(in->has_price ? in->price : before.price),
                            DBI(in->has_duration ? in->duration_days : before.duration_days),
                            DBB(in->has_active ? in->is_active : before.is_active),
                            DBI(clock_now_us())),
                  NULL, ei);
    if (err || (err = promo_product_load(c, x->product, x->out, ei)))
        return err;
    /* an /api/admin/ and /admin/ write: audited in its transaction */
    json_t *b = promotions_product_to_json(&before), *a = promotions_product_to_json(x->out);
    err = audit_record(c, x->actor, "promotion.product_update", "promotion_product", x->product,
                       b, a, NULL, ei);
    json_decref(b);
    json_decref(a);
    return err;
}

int promotions_product_update(struct db *db, const struct audit_actor *actor,
                              const char *product, const struct promotion_product_in *in,
                              struct promotion_product *out, struct souk_errinfo *ei)
{
    struct product_update_args x = {actor, product, in, out};
    return db_tx_run(db, product_update_tx, &x, ei);
}

/* ---- promotions -------------------------------------------------------------------------- */

#define PROMO_COLS                                                                          \
    "id, product, target_id, project_id, specialist_id, owner_id, status, price, currency, " \
    "duration_days, starts_at, ends_at, payment_id, attempt, checkout_url, created_at"

static void row_to_promo(const struct db_res *r, int i, struct arena *a, struct promotion *p)
{
    memset(p, 0, sizeof *p);
    copy(p->id, sizeof p->id, db_get(r, i, 0));
    copy(p->product, sizeof p->product, db_get(r, i, 1));
    copy(p->target_id, sizeof p->target_id, db_get(r, i, 2));
    copy(p->project_id, sizeof p->project_id, db_get(r, i, 3));
    copy(p->specialist_id, sizeof p->specialist_id, db_get(r, i, 4));
    copy(p->owner_id, sizeof p->owner_id, db_get(r, i, 5));
    copy(p->status, sizeof p->status, db_get(r, i, 6));
    p->price = db_int(r, i, 7);
    copy(p->currency, sizeof p->currency, db_get(r, i, 8));
    p->duration_days = (int)db_int(r, i, 9);
    p->starts_at = db_int(r, i, 10);
    p->ends_at = db_int(r, i, 11);
    copy(p->payment_id, sizeof p->payment_id, db_get(r, i, 12));
    p->attempt = (int)db_int(r, i, 13);
    p->checkout_url = arena_strdup(a, db_get(r, i, 14));
    p->created_at = db_int(r, i, 15);
    /* The server's clock decides, even before the expiry job has run. */
    if (!strcmp(p->status, "active") && p->ends_at <= clock_now_us())
        copy(p->status, sizeof p->status, "expired");
}

int promo_load(struct db_conn *c, const char *id, struct arena *a, struct promotion *out,
               struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    char nid[UUID_STR_LEN];
    int err;

    if (!id || uuid_normalize(id, nid))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such promotion.");
    err = db_query(c, "SELECT " PROMO_COLS " FROM promotions WHERE id = $1", DB_PARAMS(DBT(nid)),
                   &r, ei);
    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such promotion.");
    if (!err)
        row_to_promo(r, 0, a, out);
    db_res_free(r);
    return err;
}

struct create_args {
    const char *user_id, *product, *project_id;
    struct arena *a;
    struct promotion *out;
    struct checkout_session cs;
};

/* The target of a purchase: the caller's project, or the caller's profile. */
static int purchase_target(struct db_conn *c, struct create_args *x, const char *vendor_id,
                           const struct promotion_product *pp, struct souk_errinfo *ei)
{
    char owner[37] = "";
    int err;

    if (strcmp(pp->target, "project") != 0)
        return 0;
    if (!x->project_id || !x->project_id[0]) {
        souk_errinfo_field(ei, "project_id", "This product needs a project.");
        return souk_fail(ei, SOUK_INVALID, "Invalid input.");
    }
    err = project_owner(c, x->project_id, owner, ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_field(ei, "project_id", "No such project.");
        return SOUK_INVALID;
    }
    if (!err && strcmp(owner, vendor_id) != 0)
        err = souk_fail(ei, SOUK_FORBIDDEN, "This project is not yours.");
    return err;
}

static int insert_promo(struct db_conn *c, struct create_args *x, const char *vendor_id,
                        const struct promotion_product *pp, char id[37],
                        struct souk_errinfo *ei)
{
    int is_project = strcmp(pp->target, "project") == 0;

    uuid_v7(id);
    return db_exec(c,
                   "INSERT INTO promotions (id, product, target_id, project_id, specialist_id, "
                   "owner_id, status, price, currency, duration_days, attempt, created_at, "
                   "updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, 1, $10, "
                   "$10)",
                   DB_PARAMS(DBT(id), DBT(pp->product), DBT(is_project ? x->project_id : vendor_id),
                             DBT(is_project ? x->project_id : NULL), DBT(vendor_id),
                             DBT(x->user_id), DBI(pp->price), DBT(pp->currency),
                             DBI(pp->duration_days), DBI(clock_now_us())),
                   NULL, ei);
}

static int create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct create_args *x = arg;
    struct promotion_product pp;
    char vendor_id[37] = "", id[37];
    int err = specialist_of_user(c, x->user_id, vendor_id, ei);

    if (!err && (err = promo_product_load(c, x->product, &pp, ei)) == SOUK_NOT_FOUND) {
        souk_errinfo_field(ei, "product", "No such product.");
        return SOUK_INVALID;
    }
    if (!err && !pp.is_active)
        err = souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                             "This product is not on sale.");
    if (!err)
        err = purchase_target(c, x, vendor_id, &pp, ei);
    if (!err)
        err = insert_promo(c, x, vendor_id, &pp, id, ei);
    if (!err)
        err = promo_load(c, id, x->a, x->out, ei);
    if (!err)
        err = promo_checkout_create(c, x->a, x->out, &x->cs, ei);
    return err;
}

int promotions_create(struct db *db, const char *user_id, const char *product,
                      const char *project_id, struct arena *a, struct promotion *out,
                      struct souk_errinfo *ei)
{
    struct create_args x = {.user_id = user_id, .product = product, .project_id = project_id,
                            .a = a, .out = out};
    int err = db_tx_run(db, create_tx, &x, ei);

    if (!err)
        err = promo_checkout_open(db, a, out, &x.cs, ei);
    return err;
}

struct get_args {
    const char *id, *owner_id;
    struct arena *a;
    struct promotion *out;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;
    int err = promo_load(c, g->id, g->a, g->out, ei);

    if (!err && strcmp(g->out->owner_id, g->owner_id) != 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such promotion.");
    return err;
}

int promotions_get(struct db *db, const char *id, const char *owner_id, struct arena *a,
                   struct promotion *out, struct souk_errinfo *ei)
{
    struct get_args g = {id, owner_id, a, out};
    return db_run(db, get_fn, &g, ei);
}

static int cancel_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;
    int64_t changed = 0;
    int err = get_fn(c, g, ei);

    if (!err)
        err = db_exec(c,
                      "UPDATE promotions SET status = 'cancelled', updated_at = $2 WHERE id = $1 "
                      "AND status = 'pending'",
                      DB_PARAMS(DBT(g->out->id), DBI(clock_now_us())), &changed, ei);
    if (!err && !changed)
        err = souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                             "Only a pending promotion can be cancelled.");
    return err ? err : get_fn(c, g, ei);
}

int promotions_cancel(struct db *db, const char *id, const char *owner_id, struct arena *a,
                      struct promotion *out, struct souk_errinfo *ei)
{
    struct get_args g = {id, owner_id, a, out};
    return db_tx_run(db, cancel_tx, &g, ei);
}

struct list_args {
    const char *owner_id, *status;
    const struct keyset *ks;
    struct arena *a;
    struct promotion **out;
    int *n;
};

/* The status filter: "active" and "expired" also read ends_at, so that the
 * list agrees with the clock as the detail does. $2 now, $3 the status. */
#define STATUS_WHERE                                                                        \
    " AND (CAST($3 AS TEXT) IS NULL OR (CAST($3 AS TEXT) = 'active' AND status = 'active' "  \
    "AND ends_at > $2) OR (CAST($3 AS TEXT) = 'expired' AND (status = 'expired' OR (status " \
    "= 'active' AND ends_at <= $2))) OR (CAST($3 AS TEXT) IN ('pending', 'cancelled') AND "  \
    "status = CAST($3 AS TEXT)))"

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *l = arg;
    char where[160], order[160];
    struct db_res *r = NULL;
    const char *sql = arena_sprintf(
        l->a, "SELECT " PROMO_COLS " FROM promotions WHERE owner_id = $1" STATUS_WHERE "%s%s",
        keyset_where(l->ks, "created_at", "id", 4, where, sizeof where),
        keyset_order(l->ks, "created_at", "id", order, sizeof order));
    struct db_param p[] = {DBT(l->owner_id), DBI(clock_now_us()), DBT(l->status),
                           DBI(l->ks->k), DBT(l->ks->id)};
    int err = db_query(c, sql, p, l->ks->has_cursor ? 5 : 3, &r, ei);

    if (err)
        return err;
    *l->n = db_nrows(r);
    *l->out = arena_calloc(l->a, (size_t)*l->n + 1, sizeof **l->out);
    for (int i = 0; i < *l->n; i++)
        row_to_promo(r, i, l->a, &(*l->out)[i]);
    db_res_free(r);
    return 0;
}

int promotions_list(struct db *db, const char *owner_id, const char *status,
                    const struct keyset *ks, struct arena *a, struct promotion **out, int *n,
                    struct souk_errinfo *ei)
{
    struct list_args l = {owner_id, status, ks, a, out, n};
    return db_run(db, list_fn, &l, ei);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

json_t *promotions_product_to_json(const struct promotion_product *p)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:i, s:b}", "product", p->product, "target",
                     p->target, "price", money_to_json(p->price), "currency", p->currency,
                     "duration_days", p->duration_days, "is_active", p->is_active);
}

json_t *promotions_to_json(const struct promotion *p)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s}", "id", p->id, "product",
                          p->product, "project_id",
                          json_str_or_null(p->project_id[0] ? p->project_id : NULL),
                          "specialist_id", p->specialist_id, "status", p->status, "price",
                          money_to_json(p->price), "currency", p->currency);

    json_object_set_new(o, "duration_days", json_integer(p->duration_days));
    json_object_set_new(o, "starts_at", json_time_or_null(p->starts_at, p->starts_at == 0));
    json_object_set_new(o, "ends_at", json_time_or_null(p->ends_at, p->ends_at == 0));
    json_object_set_new(o, "checkout_url", json_str_or_null(p->checkout_url));
    json_object_set_new(o, "created_at", json_time(p->created_at));
    return o;
}
