/* access.c - THE rule deciding who opens a recipe (see recipes.h).
 *
 * Every path that shows a recipe goes through recipes_access_check() and
 * recipes_to_json(): the detail view, the lists and the global cookbook,
 * the search (whose post-filter also uses it, so that locked fields never
 * match), GET /api/chefs/{id}/recipes/, and notifications and e-mails
 * (recipes_render_for_user).
 *
 * Order of the checks, cheapest first:
 *   1. the chef who owns it, MODERATOR and ADMIN       -> OPEN
 *   2. EXCLUSIVE HOOK (auctions): an exclusive recipe is opened only by its
 *      paying winner, whatever their subscription      -> OPEN | EXCLUSIVE
 *   3. a free recipe                                   -> OPEN
 *   4. a subscription to the chef granting rank >= required_rank
 *      (status cache: no query on a hit)               -> OPEN
 *   5. a paid purchase of it (prefetched for a page)   -> OPEN
 *   6. anyone else                                     -> LOCKED
 *
 * Thread safety: the hook is set once before the server starts; a context
 * belongs to one request.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/money.h"
#include "db/db.h"
#include "recipes/recipes.h"
#include "subscriptions/subscriptions.h"

static recipe_exclusive_fn exclusive_hook;
static recipe_exclusive_page_fn exclusive_page_hook;

void recipes_set_exclusive_hook(recipe_exclusive_fn fn)
{
    exclusive_hook = fn;
}

void recipes_set_exclusive_page_hook(recipe_exclusive_page_fn fn)
{
    exclusive_page_hook = fn;
}

void recipes_access_begin(struct recipe_access_ctx *ctx, struct db_conn *c,
                          const struct recipe_viewer *v)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->c = c;
    ctx->viewer = *v;
}

static int is_staff(const struct recipe_viewer *v)
{
    return v->user_id && (v->role == AUTH_ROLE_MODERATOR || v->role == AUTH_ROLE_ADMIN);
}

static int is_owner(const struct recipe_viewer *v, const struct recipe *r)
{
    return v->user_id && strcmp(v->user_id, r->chef_user_id) == 0;
}

/* The page's row for r, or -1 when r is not from the prefetched page. */
static int page_index(const struct recipe_access_ctx *ctx, const struct recipe *r)
{
    if (ctx->page && r >= ctx->page && r < ctx->page + ctx->npage)
        return (int)(r - ctx->page);
    return -1;
}

/* 1 when the viewer's grant alone opens the premium recipe r (cache, no query). */
static int granted(struct recipe_access_ctx *ctx, const struct recipe *r, struct souk_errinfo *ei)
{
    int rank = 0;

    if (subscriptions_grant_rank(ctx->c, ctx->viewer.user_id, r->chef_id, &rank, ei)) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return 0; /* the check itself asks again and reports the error */
    }
    return rank > 0 && rank >= r->required_rank;
}

/* Purchases of the viewer among the page's premium recipes that neither an
 * exclusive flag nor a grant decides, one query (none when there are none). */
static int prefetch_purchases(struct recipe_access_ctx *ctx, const struct recipe *rs, int n,
                              struct souk_errinfo *ei)
{
    struct db_param p[RECIPE_ACCESS_PREFETCH_MAX + 1];
    char sql[128 + RECIPE_ACCESS_PREFETCH_MAX * 8];
    struct db_res *res = NULL;
    size_t len;
    int np = 1, err;

    p[0] = DBT(ctx->viewer.user_id);
    len = (size_t)snprintf(sql, sizeof sql,
                           "SELECT recipe_id FROM recipe_purchases WHERE user_id = $1 AND "
                           "status = 'paid' AND recipe_id IN (");
    for (int i = 0; i < n; i++) {
        if (!rs[i].is_premium || ctx->excl[i] || is_owner(&ctx->viewer, &rs[i]) ||
            granted(ctx, &rs[i], ei))
            continue;
        p[np] = DBT(rs[i].id);
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s$%d", np > 1 ? ", " : "", np + 1);
        np++;
    }
    if (np == 1)
        return 0;
    snprintf(sql + len, sizeof sql - len, ")");
    if ((err = db_query(ctx->c, sql, p, np, &res, ei)))
        return err;
    for (int i = 0; i < db_nrows(res) && i < RECIPE_ACCESS_PREFETCH_MAX; i++)
        snprintf(ctx->purchased[ctx->npurchased++], 37, "%s", db_get(res, i, 0));
    db_res_free(res);
    return 0;
}

int recipes_access_prefetch(struct recipe_access_ctx *ctx, const struct recipe *rs, int n,
                            struct souk_errinfo *ei)
{
    int err;

    ctx->npurchased = 0;
    ctx->prefetched = n <= RECIPE_ACCESS_PREFETCH_MAX; /* else: queries per recipe */
    if (!ctx->prefetched || is_staff(&ctx->viewer) || n == 0)
        return 0;
    memset(ctx->excl, 0, sizeof ctx->excl);
    if (exclusive_page_hook &&
        (err = exclusive_page_hook(ctx->c, rs, n, ctx->viewer.user_id, ctx->excl, ei)))
        return err;
    ctx->page = exclusive_page_hook ? rs : NULL;
    ctx->npage = n;
    if (!ctx->viewer.user_id)
        return 0;
    return prefetch_purchases(ctx, rs, n, ei);
}

static int purchased(struct recipe_access_ctx *ctx, const struct recipe *r, int *yes,
                     struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err;

    *yes = 0;
    if (!ctx->viewer.user_id)
        return 0;
    if (ctx->prefetched) {
        for (int i = 0; i < ctx->npurchased; i++)
            if (strcmp(ctx->purchased[i], r->id) == 0)
                *yes = 1;
        return 0;
    }
    err = db_query(ctx->c,
                   "SELECT 1 FROM recipe_purchases WHERE user_id = $1 AND recipe_id = $2 "
                   "AND status = 'paid'",
                   DB_PARAMS(DBT(ctx->viewer.user_id), DBT(r->id)), &res, ei);
    *yes = !err && db_nrows(res) > 0;
    db_res_free(res);
    return err;
}

int recipes_access_check(struct recipe_access_ctx *ctx, const struct recipe *r,
                         enum recipe_access *out, struct souk_errinfo *ei)
{
    const struct recipe_viewer *v = &ctx->viewer;
    int rank = 0, yes = 0, err;

    *out = RECIPE_OPEN;
    if (is_owner(v, r) || is_staff(v))
        return 0;
    if (r->hidden_at) /* hidden by staff: only its owner and staff see it */
        return souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    /* ---- EXCLUSIVE HOOK (auctions issue) -------------------------------------
     * An auctioned recipe is exclusive while its auction runs and once sold:
     * only the paying winner opens it here, whatever their subscription. */
    if (page_index(ctx, r) >= 0) {
        unsigned char f = ctx->excl[page_index(ctx, r)];
        if (f & RECIPE_EXCL_EXCLUSIVE) {
            *out = (f & RECIPE_EXCL_WINNER) ? RECIPE_OPEN : RECIPE_EXCLUSIVE;
            return 0;
        }
    } else if (exclusive_hook) {
        int exclusive = 0, winner = 0;
        if ((err = exclusive_hook(ctx->c, r, v->user_id, &exclusive, &winner, ei)))
            return err;
        if (exclusive) {
            *out = winner ? RECIPE_OPEN : RECIPE_EXCLUSIVE;
            return 0;
        }
    }
    if (!r->is_premium)
        return 0;
    *out = RECIPE_LOCKED;
    if (!v->user_id)
        return 0;
    if ((err = subscriptions_grant_rank(ctx->c, v->user_id, r->chef_id, &rank, ei)))
        return err;
    if (rank > 0 && rank >= r->required_rank) {
        *out = RECIPE_OPEN;
        return 0;
    }
    if ((err = purchased(ctx, r, &yes, ei)))
        return err;
    if (yes)
        *out = RECIPE_OPEN;
    return 0;
}

static json_t *json_array_text(const char *text)
{
    json_t *j = json_loads(text ? text : "[]", 0, NULL);

    if (!json_is_array(j)) {
        json_decref(j);
        j = json_array();
    }
    return j;
}

json_t *recipes_to_json(const struct recipe *r, enum recipe_access access)
{
    int open = access == RECIPE_OPEN;
    json_t *j = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:o, s:s, s:i, s:b, s:i, s:s, s:b, s:o, s:o}",
        "id", r->id, "chef_id", r->chef_id, "chef", "id", r->chef_id, "business_name",
        r->chef_name ? r->chef_name : "", "title", r->title, "summary", r->summary, "cuisine",
        r->cuisine, "dietary", json_array_text(r->dietary), "difficulty", r->difficulty,
        "cook_minutes", r->cook_minutes, "is_premium", r->is_premium, "required_rank",
        r->required_rank, "currency", r->currency, "locked", !open, "created_at",
        json_time(r->created_at), "updated_at", json_time(r->updated_at));

    json_object_set_new(j, "ingredients", open ? json_array_text(r->ingredients) : json_null());
    json_object_set_new(j, "instructions", open ? json_string(r->instructions) : json_null());
    json_object_set_new(j, "price", r->has_price ? money_to_json(r->price) : json_null());
    if (access == RECIPE_EXCLUSIVE)
        json_object_set_new(j, "is_exclusive", json_true());
    if (r->hidden_at) /* only its owner and staff get this far */
        json_object_set_new(j, "is_hidden", json_true());
    return j;
}

int recipes_render_for_user(struct db_conn *c, const char *recipe_id, const char *user_id, int role,
                            struct arena *a, json_t **out, struct souk_errinfo *ei)
{
    struct recipe_viewer v = {user_id, role};
    struct recipe_access_ctx ctx;
    enum recipe_access acc;
    struct recipe r;
    int err;

    *out = NULL;
    if ((err = recipes_get(c, recipe_id, a, &r, ei)))
        return err;
    recipes_access_begin(&ctx, c, &v);
    if ((err = recipes_access_check(&ctx, &r, &acc, ei)))
        return err;
    *out = recipes_to_json(&r, acc);
    return 0;
}
