/* purpose.c - how auctions plug into the rest: the "auction" payment
 * purpose (the winner pays; late payments are refunded), the exclusive-
 * recipe hook of src/recipes, the award lists, and auctions_init().
 *
 * Payment callbacks run inside the transaction that applies a verified
 * webhook event: they only touch the database (a refund or a fresh
 * checkout goes to a job) and are idempotent on state.
 *
 * Thread safety: registration happens once in auctions_init(), before the
 * server starts; everything else is stateless.
 */
#include <stdio.h>
#include <string.h>

#include "auctions/auctions.h"
#include "auctions/internal.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "payments/payments.h"
#include "recipes/recipes.h"
#include "db/keyset.h"
#include "core/str.h"

#define CHECKOUT_TTL_MAX 86400

/* ---- the "auction" purpose ---------------------------------------------------------- */

/* POST /api/payments/checkout/ {"purpose": "auction", "id": <auction id>}:
 * only the current winner, while the award is pending and in its window.
 * The attempt is the auction's current one, so this returns the checkout
 * the end job made rather than a second one. */
static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int64_t now = clock_now_us();
    int err;

    (void)body;
    if (!uuid_valid(object_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such auction");
    err = db_query(tx,
                   "SELECT w.status, w.amount, w.pay_by, a.currency, a.pay_attempt FROM "
                   "auction_awards w JOIN auctions a ON a.id = w.auction_id WHERE "
                   "w.auction_id = $1 AND w.user_id = $2",
                   DB_PARAMS(DBT(object_id), DBT(user_id)), &r, ei);
    if (!err && db_nrows(r) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "you have not won this auction");
    else if (!err && strcmp(db_get(r, 0, 0), "pending"))
        err = souk_fail(ei, SOUK_PRECONDITION, "this award is %s", db_get(r, 0, 0));
    else if (!err && db_int(r, 0, 2) <= now)
        err = souk_fail(ei, SOUK_PRECONDITION, "the payment window has passed");
    if (!err) {
        int64_t ttl = (db_int(r, 0, 2) - now) / 1000000 + 1;
        out->unit_amount = db_int(r, 0, 1);
        out->currency = arena_strdup(a, db_get(r, 0, 3));
        out->product_name = "Auctioned recipe";
        out->attempt = (int)db_int(r, 0, 4);
        out->ttl_seconds = (int)(ttl > CHECKOUT_TTL_MAX ? CHECKOUT_TTL_MAX : ttl);
    }
    db_res_free(r);
    return err;
}

static int pending_update(struct db_conn *tx, const char *sql, const struct payment_event *ev,
                          int64_t *changed, struct souk_errinfo *ei)
{
    if (!ev->object_id || !ev->user_id || !uuid_valid(ev->object_id) ||
        !uuid_valid(ev->user_id))
        return 0;
    return db_exec(tx, sql,
                   DB_PARAMS(DBT(ev->object_id), DBT(ev->user_id), DBI(clock_now_us()),
                             DBT(ev->payment_id)),
                   changed, ei);
}

/* A payment for an award that is no longer pending: paid already (a
 * repeated fact) is nothing; anything else is money we must give back. */
static int late_payment(struct db_conn *tx, const struct payment_event *ev,
                        struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    char key[200];
    int err = db_query(tx,
                       "SELECT COUNT(*) FROM auction_awards WHERE auction_id = $1 AND "
                       "user_id = $2 AND status = 'paid' AND payment_id = $3",
                       DB_PARAMS(DBT(ev->object_id), DBT(ev->user_id), DBT(ev->payment_id)),
                       &r, ei);
    if (!err && db_int(r, 0, 0) == 0 && ev->payment_id) {
        json_t *p = json_pack("{s:s}", "payment_id", ev->payment_id);
        snprintf(key, sizeof key, "auction.refund:%s", ev->payment_id);
        err = job_enqueue(tx, AUCTION_JOB_REFUND, p, 0, key, NULL, ei);
        json_decref(p);
    }
    db_res_free(r);
    return err;
}

static int on_paid(struct db_conn *tx, const struct payment_event *ev, struct souk_errinfo *ei)
{
    int64_t changed = 0;
    int err = pending_update(tx,
                             "UPDATE auction_awards SET status = 'paid', payment_status = "
                             "'succeeded', paid_at = $3, updated_at = $3, payment_id = $4 "
                             "WHERE auction_id = $1 AND user_id = $2 AND status = 'pending'",
                             ev, &changed, ei);
    if (err || changed || !ev->object_id || !uuid_valid(ev->object_id))
        return err;
    return late_payment(tx, ev, ei);
}

static int on_failed(struct db_conn *tx, const struct payment_event *ev,
                     struct souk_errinfo *ei)
{
    return pending_update(tx,
                          "UPDATE auction_awards SET payment_status = 'failed', updated_at = $3 "
                          "WHERE auction_id = $1 AND user_id = $2 AND status = 'pending' AND "
                          "(payment_id = $4 OR $4 IS NULL)",
                          ev, NULL, ei);
}

/* The session expired but the window has not: a fresh checkout (job). */
static int on_expired(struct db_conn *tx, const struct payment_event *ev,
                      struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    char key[200];
    int err;

    if (!ev->payment_id)
        return 0;
    err = db_query(tx,
                   "SELECT id FROM auction_awards WHERE payment_id = $1 AND status = 'pending' "
                   "AND pay_by > $2",
                   DB_PARAMS(DBT(ev->payment_id), DBI(clock_now_us())), &r, ei);
    if (!err && db_nrows(r) == 1) {
        json_t *p = json_pack("{s:s}", "award_id", db_get(r, 0, 0));
        snprintf(key, sizeof key, "auction.checkout:%s", ev->payment_id);
        err = job_enqueue(tx, AUCTION_JOB_CHECKOUT, p, 0, key, NULL, ei);
        json_decref(p);
    }
    db_res_free(r);
    return err;
}

static const struct payment_purpose auction_purpose = {
    .name = "auction",
    .prepare = prepare,
    .on_paid = on_paid,
    .on_failed = on_failed,
    .on_expired = on_expired,
    .reopens_itself = 1, /* the award's job opens its checkout until it has a URL (awards.c) */
};

void auction_purpose_register(void)
{
    payments_register_purpose(&auction_purpose);
}

/* ---- the exclusive hook (src/recipes asks it for non-owner, non-staff viewers) ---- */

static int exclusive_hook(struct db_conn *c, const struct recipe *rc, const char *user_id,
                          int *exclusive, int *winner, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(
        c,
        "SELECT (SELECT COUNT(*) FROM auctions WHERE recipe_id = $1 AND (status = 'awarded' "
        "OR (status = 'open' AND starts_at <= $2))), (SELECT COUNT(*) FROM auction_awards w "
        "JOIN auctions a ON a.id = w.auction_id WHERE a.recipe_id = $1 AND w.user_id = $3 "
        "AND w.status = 'paid')",
        DB_PARAMS(DBT(rc->id), DBI(clock_now_us()), DBT(user_id)), &r, ei);
    if (!err) {
        *exclusive = db_int(r, 0, 0) > 0;
        *winner = db_int(r, 0, 1) > 0;
    }
    db_res_free(r);
    return err;
}

/* The same for a list page, one query: the page's recipes that have an auction. */
static int exclusive_page_hook(struct db_conn *c, const struct recipe *rs, int n,
                               const char *user_id, unsigned char *flags, struct souk_errinfo *ei)
{
    struct db_param p[RECIPE_ACCESS_PREFETCH_MAX + 2];
    char sql[512 + RECIPE_ACCESS_PREFETCH_MAX * 8];
    struct db_res *r = NULL;
    size_t len;
    int err;

    if (n > RECIPE_ACCESS_PREFETCH_MAX)
        return souk_fail(ei, SOUK_INTERNAL, "auctions: page too large");
    p[0] = DBI(clock_now_us());
    p[1] = DBT(user_id);
    len = (size_t)snprintf(
        sql, sizeof sql, "%s",
        "SELECT a.recipe_id, MAX(CASE WHEN a.status = 'awarded' OR (a.status = 'open' AND "
        "a.starts_at <= $1) THEN 1 ELSE 0 END), MAX(CASE WHEN EXISTS (SELECT 1 FROM "
        "auction_awards w WHERE w.auction_id = a.id AND w.user_id = $2 AND w.status = 'paid') "
        "THEN 1 ELSE 0 END) FROM auctions a WHERE a.recipe_id IN (");
    for (int i = 0; i < n; i++) {
        p[i + 2] = DBT(rs[i].id);
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s$%d", i ? ", " : "", i + 3);
    }
    snprintf(sql + len, sizeof sql - len, ") GROUP BY a.recipe_id");
    if ((err = db_query(c, sql, p, n + 2, &r, ei)))
        return err;
    for (int j = 0; j < db_nrows(r); j++)
        for (int i = 0; i < n; i++)
            if (strcmp(rs[i].id, db_get(r, j, 0)) == 0 && db_int(r, j, 1) > 0)
                flags[i] = RECIPE_EXCL_EXCLUSIVE | (db_int(r, j, 2) > 0 ? RECIPE_EXCL_WINNER : 0);
    db_res_free(r);
    return 0;
}

void auction_exclusive_install(void)
{
    recipes_set_exclusive_hook(exclusive_hook);
    recipes_set_exclusive_page_hook(exclusive_page_hook);
}

/* ---- award lists --------------------------------------------------------------------- */

#define AWARD_COLS                                                                         \
    "w.id, w.auction_id, a.recipe_id, w.user_id, w.rank, w.amount, a.currency, w.status, " \
    "w.payment_status, w.checkout_url, w.pay_by, w.created_at"

static void award_from_row(const struct db_res *r, int i, struct arena *a, struct award *w)
{
    memset(w, 0, sizeof *w);
    str_copy(w->id, sizeof w->id, db_get(r, i, 0));
    str_copy(w->auction_id, sizeof w->auction_id, db_get(r, i, 1));
    str_copy(w->recipe_id, sizeof w->recipe_id, db_get(r, i, 2));
    str_copy(w->user_id, sizeof w->user_id, db_get(r, i, 3));
    w->rank = (int)db_int(r, i, 4);
    w->amount = db_int(r, i, 5);
    str_copy(w->currency, sizeof w->currency, db_get(r, i, 6));
    str_copy(w->status, sizeof w->status, db_get(r, i, 7));
    str_copy(w->payment_status, sizeof w->payment_status, db_get(r, i, 8));
    w->checkout_url = arena_strdup(a, db_get(r, i, 9));
    w->pay_by = db_int(r, i, 10);
    w->created_at = db_int(r, i, 11);
}

static int awards_query(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                        struct arena *a, struct award **out, int *n, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c, sql, p, np, &r, ei);

    if (err)
        return err;
    *n = db_nrows(r);
    *out = arena_calloc(a, (size_t)*n + 1, sizeof **out);
    for (int i = 0; i < *n; i++)
        award_from_row(r, i, a, &(*out)[i]);
    db_res_free(r);
    return 0;
}

int auctions_awards_for_user(struct db_conn *c, const char *user_id, const struct keyset *ks,
                             struct arena *a, struct award **out, int *n,
                             struct souk_errinfo *ei)
{
    char where[160], order[160];
    struct db_param p[] = {DBT(user_id), DBI(ks->k), DBT(ks->id)};
    const char *sql = arena_sprintf(
        a, "SELECT " AWARD_COLS " FROM auction_awards w JOIN auctions a ON "
           "a.id = w.auction_id WHERE w.user_id = $1%s%s",
        keyset_where(ks, "w.created_at", "w.id", 2, where, sizeof where),
        keyset_order(ks, "w.created_at", "w.id", order, sizeof order));
    return awards_query(c, sql, p, ks->has_cursor ? 3 : 1, a, out, n, ei);
}

int auctions_awards_for_auction(struct db_conn *c, const char *auction_id, struct arena *a,
                                struct award **out, int *n, struct souk_errinfo *ei)
{
    return awards_query(c,
                        "SELECT " AWARD_COLS " FROM auction_awards w JOIN auctions a ON "
                        "a.id = w.auction_id WHERE w.auction_id = $1 ORDER BY w.rank",
                        DB_PARAMS(DBT(auction_id)), a, out, n, ei);
}

/* ---- module ------------------------------------------------------------------------- */

int auctions_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    auction_jobs_register();
    auction_purpose_register();
    auction_exclusive_install();
    auction_userdata_register();
    return 0;
}
