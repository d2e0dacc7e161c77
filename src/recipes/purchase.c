/* purchase.c - the "recipe" payment purpose: a one-time purchase of a
 * priced recipe through POST /api/payments/checkout/ {"purpose": "recipe",
 * "id": <recipe id>}. Once paid, the buyer opens it for good (access.c
 * reads recipe_purchases); a full refund takes that back.
 *
 * One recipe has many buyers, so its checkouts are per payer
 * (checkout_spec.per_payer, payments.h): the payment's object stays the
 * recipe (the buyer's history reads "recipe R"), and the payer is part of
 * the checkout's identity. Each buyer has one recipe_purchases row per
 * recipe whose attempt counts that buyer's checkouts of it: asking again
 * while a checkout is pending gives back the same session; after it
 * expired (or the purchase was refunded) the next attempt opens a fresh one.
 *
 * Concurrency: buyers never contend with each other (their rows and keys
 * differ). The same buyer twice at once: the row is created by one
 * INSERT .. ON CONFLICT DO NOTHING and reopened by one conditional UPDATE,
 * so both requests end on the same pending attempt and the same checkout.
 *
 * Callbacks run inside the webhook's transaction (payments.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "payments/payments.h"
#include "recipes/recipes.h"

#define PURPOSE "recipe"

/* The buyer's purchase row, pending, with its current attempt: created
 * (attempt 1), reused while pending, or reopened with the next attempt
 * after an expired checkout or a refund. CONFLICT when already paid. */
static int purchase_open(struct db_conn *tx, const char *recipe_id, const char *user_id,
                         int *attempt, struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int64_t now = clock_now_us();
    char id[37];
    int err;

    uuid_v7(id);
    err = db_exec(tx,
                  "INSERT INTO recipe_purchases (id, recipe_id, user_id, attempt, status, "
                  "created_at, updated_at) VALUES ($1, $2, $3, 1, 'pending', $4, $4) "
                  "ON CONFLICT (recipe_id, user_id) DO NOTHING",
                  DB_PARAMS(DBT(id), DBT(recipe_id), DBT(user_id), DBI(now)), NULL, ei);
    if (!err)
        err = db_exec(tx,
                      "UPDATE recipe_purchases SET status = 'pending', attempt = attempt + 1, "
                      "updated_at = $3 WHERE recipe_id = $1 AND user_id = $2 AND status IN "
                      "('expired', 'refunded')",
                      DB_PARAMS(DBT(recipe_id), DBT(user_id), DBI(now)), NULL, ei);
    if (!err)
        err = db_query(tx,
                       "SELECT status, attempt FROM recipe_purchases WHERE recipe_id = $1 AND "
                       "user_id = $2",
                       DB_PARAMS(DBT(recipe_id), DBT(user_id)), &res, ei);
    if (!err && db_nrows(res) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such recipe."); /* deleted meanwhile */
    else if (!err && strcmp(db_get(res, 0, 0), "pending"))
        err = souk_fail(ei, SOUK_CONFLICT, "You already own this recipe.");
    if (!err)
        *attempt = (int)db_int(res, 0, 1);
    db_res_free(res);
    return err;
}

static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    struct recipe r;
    int attempt = 0, err;

    (void)body;
    if ((err = recipes_get(tx, object_id, a, &r, ei)))
        return err;
    if (r.hidden_at)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    if (!r.has_price)
        return souk_fail(ei, SOUK_PRECONDITION, "This recipe is not for sale.");
    if (!strcmp(r.chef_user_id, user_id))
        return souk_fail(ei, SOUK_PRECONDITION, "This is your own recipe.");
    if ((err = purchase_open(tx, r.id, user_id, &attempt, ei)))
        return err;
    out->mode = "payment";
    out->unit_amount = r.price;
    out->currency = arena_strdup(a, r.currency);
    out->product_name = arena_sprintf(a, "Recipe: %s", r.title);
    out->attempt = attempt;
    out->per_payer = 1;
    out->success_path = arena_sprintf(a, "/api/recipes/%s/", r.id);
    out->cancel_path = out->success_path;
    return 0;
}

static int on_paid(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    if (!ev->object_id || !ev->user_id)
        return 0;
    return recipes_purchase_mark_paid(tx, ev->object_id, ev->user_id, ev->payment_id, ei);
}

static int set_status(struct db_conn *tx, const struct payment_event *ev, const char *to,
                      const char *from, struct souk_errinfo *ei)
{
    if (!ev->object_id || !ev->user_id)
        return 0;
    return db_exec(
        tx,
        "UPDATE recipe_purchases SET status = $3, updated_at = $5 WHERE recipe_id = "
        "$1 AND user_id = $2 AND status = $4",
        DB_PARAMS(DBT(ev->object_id), DBT(ev->user_id), DBT(to), DBT(from), DBI(clock_now_us())),
        NULL, ei);
}

static int on_expired(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    return set_status(tx, ev, "expired", "pending", ei);
}

static int on_refunded(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    return ev->fully_refunded ? set_status(tx, ev, "refunded", "paid", ei) : 0;
}

static const struct payment_purpose recipe_purpose = {
    .name = PURPOSE,
    .prepare = prepare,
    .on_paid = on_paid,
    .on_expired = on_expired,
    .on_refunded = on_refunded,
};

int recipes_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    if (recipes_cache_start())
        return souk_fail(ei, SOUK_INTERNAL, "recipes: no room on the bus");
    payments_register_purpose(&recipe_purpose);
    recipes_userdata_register();
    recipes_moderation_register();
    recipes_vendor_stats_register();
    return 0;
}
