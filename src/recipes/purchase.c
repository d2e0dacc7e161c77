/* purchase.c - the "recipe" payment purpose: a one-time purchase of a
 * priced recipe through POST /api/payments/checkout/ {"purpose": "recipe",
 * "id": <recipe id>}. Once paid, the buyer opens it for good (access.c
 * reads recipe_purchases); a full refund takes that back.
 *
 * The payments idempotency key is (purpose, object id, attempt) and the
 * object id is the recipe, shared by all its buyers, so each buyer's
 * purchase row carries its own attempt number, unique per recipe and only
 * ever growing (a fresh checkout after an expired one takes the next).
 * Two first-time buyers racing on PostgreSQL may collide on the number:
 * the loser gets 409 conflict and simply retries.
 *
 * Callbacks run inside the webhook's transaction (payments.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "http/http.h"
#include "payments/payments.h"
#include "recipes/recipes.h"

#define PURPOSE "recipe"

/* The caller's purchase row: its status and attempt, or none. */
static int purchase_find(struct db_conn *tx, const char *recipe_id, const char *user_id,
                         char status[12], int *attempt, int *found, struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(tx,
                       "SELECT status, attempt FROM recipe_purchases WHERE recipe_id = $1 AND "
                       "user_id = $2",
                       DB_PARAMS(DBT(recipe_id), DBT(user_id)), &res, ei);

    *found = !err && db_nrows(res) == 1;
    if (*found) {
        snprintf(status, 12, "%s", db_get(res, 0, 0));
        *attempt = (int)db_int(res, 0, 1);
    }
    db_res_free(res);
    return err;
}

static int next_attempt(struct db_conn *tx, const char *recipe_id, int *out,
                        struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(tx,
                       "SELECT COALESCE(MAX(attempt), 0) + 1 FROM recipe_purchases "
                       "WHERE recipe_id = $1",
                       DB_PARAMS(DBT(recipe_id)), &res, ei);

    *out = err ? 0 : (int)db_int(res, 0, 0);
    db_res_free(res);
    return err;
}

/* A pending row with a usable attempt number for this buyer. */
static int purchase_open(struct db_conn *tx, const char *recipe_id, const char *user_id,
                         int *attempt, struct souk_errinfo *ei)
{
    char status[12] = "";
    int found = 0, err = purchase_find(tx, recipe_id, user_id, status, attempt, &found, ei);
    int64_t now = clock_now_us();
    char id[37];

    if (err || (found && !strcmp(status, "pending")))
        return err;
    if (found && !strcmp(status, "paid"))
        return souk_fail(ei, SOUK_CONFLICT, "You already own this recipe.");
    if ((err = next_attempt(tx, recipe_id, attempt, ei)))
        return err;
    if (found) /* expired or refunded: a fresh checkout */
        return db_exec(tx,
                       "UPDATE recipe_purchases SET status = 'pending', attempt = $3, "
                       "updated_at = $4 WHERE recipe_id = $1 AND user_id = $2",
                       DB_PARAMS(DBT(recipe_id), DBT(user_id), DBI(*attempt), DBI(now)), NULL, ei);
    uuid_v7(id);
    return db_exec(tx,
                   "INSERT INTO recipe_purchases (id, recipe_id, user_id, attempt, status, "
                   "created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
                   DB_PARAMS(DBT(id), DBT(recipe_id), DBT(user_id), DBI(*attempt), DBI(now)), NULL,
                   ei);
}

static int prepare(struct db_conn *tx, struct arena *a, const struct auth_user *u,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    struct recipe r;
    int attempt = 0, err;

    (void)body;
    if ((err = recipes_get(tx, object_id, a, &r, ei)))
        return err;
    if (!r.has_price)
        return souk_fail(ei, SOUK_PRECONDITION, "This recipe is not for sale.");
    if (!strcmp(r.chef_user_id, u->id))
        return souk_fail(ei, SOUK_PRECONDITION, "This is your own recipe.");
    if ((err = purchase_open(tx, r.id, u->id, &attempt, ei)))
        return err;
    out->mode = "payment";
    out->unit_amount = r.price;
    out->currency = arena_strdup(a, r.currency);
    out->product_name = arena_sprintf(a, "Recipe: %s", r.title);
    out->attempt = attempt;
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
    (void)ei;
    payments_register_purpose(&recipe_purpose);
    return 0;
}
