/* sec_recipes.c - /admin/recipes/: the global cookbook (a content section:
 * ADMIN and MODERATOR), hidden recipes included (marked); hide and unhide
 * through moderation_hide (moderate.c), as POST /api/moderation/hide/ does.
 *
 * API.md § "Admin console". Keyset pages over recipes_created_idx /
 * recipes_cuisine_idx; q is the cookbook's own full-text search
 * (recipes_list, the function behind GET /api/recipes/?q=), so that a search
 * stays an index read at a million recipes.
 */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "core/clock.h"
#include "db/keyset.h"
#include "recipes/recipes.h"

#define COLS "r.id, r.title, r.summary, r.cuisine, r.difficulty, r.cook_minutes, r.price, " \
             "r.currency, r.instructions, r.created_at, r.chef_id, v.business_name, " \
             "CASE WHEN r.is_premium THEN 1 ELSE 0 END AS is_premium, r.hidden_at, " \
             "CASE WHEN r.hidden_at IS NULL THEN 0 ELSE 1 END AS is_hidden"

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_premium");
    admin_fmt_bool(row, "is_hidden");
    admin_fmt_time(row, "hidden_at");
    admin_fmt_time(row, "created_at");
    admin_fmt_money(row, "price");
}

struct search_args {
    struct admin_ctx *ax;
    const struct keyset *ks;
    json_t *rows;
    int64_t *keys;
    char (*ids)[37];
};

static json_t *recipe_row(const struct recipe *r)
{
    char at[CLOCK_RFC3339_LEN];
    clock_format(r->created_at, at);
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", r->id, "title", r->title,
                     "business_name", r->chef_name ? r->chef_name : "", "cuisine",
                     r->cuisine ? r->cuisine : "", "is_premium", r->is_premium, "created_at", at);
}

static int search_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct search_args *a = arg;
    struct recipe_filter f = {.q = admin_arg(a->ax, "q"), .max_cook_minutes = -1,
                              .is_premium = -1, .order = RECIPE_ORDER_NEWEST};
    struct recipe_cursor cur = {.has = a->ks->has_cursor, .backwards = a->ks->backwards,
                                .k_int = a->ks->k};
    struct recipe *rs;
    int n, err;

    if (*admin_arg(a->ax, "cuisine"))
        f.cuisine = admin_arg(a->ax, "cuisine");
    snprintf(cur.id, sizeof cur.id, "%s", a->ks->id);
    if ((err = recipes_list(c, &f, &cur, a->ks->limit, admin_arena(a->ax), &rs, &n, ei)))
        return err;
    for (int i = 0; i < n; i++) {
        json_array_append_new(a->rows, recipe_row(&rs[i]));
        a->keys[i] = rs[i].created_at;
        memcpy(a->ids[i], rs[i].id, sizeof a->ids[i]);
    }
    return SOUK_OK;
}

static int search_fetch(struct admin_ctx *ax, const struct keyset *ks, json_t *rows,
                        int64_t *keys, char (*ids)[37], struct souk_errinfo *ei)
{
    struct search_args a = {ax, ks, rows, keys, ids};
    return db_run(admin_db(ax), search_fn, &a, ei);
}

static int recipes_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_object_set_new(ax->page, "cuisine", json_string(admin_arg(ax, "cuisine")));
    if (*admin_arg(ax, "q")) {
        if (!recipes_q_valid(admin_arg(ax, "q"))) {
            souk_errinfo_field(ei, "q", "Search for some words.");
            return souk_fail(ei, SOUK_INVALID, "Search for some words.");
        }
        return admin_list_fetch(ax, search_fetch, ei);
    }
    const char *hidden = admin_hidden_filter(ax);
    return admin_list_sql(ax,
                          "SELECT " COLS ", r.created_at AS _k FROM recipes r JOIN vendor_profiles"
                          " v ON v.id = r.chef_id WHERE ($1 = '' OR r.cuisine = $1) AND ($2 = '' "
                          "OR ($2 = 'hidden' AND r.hidden_at IS NOT NULL) OR ($2 = 'visible' AND "
                          "r.hidden_at IS NULL))",
                          "r.created_at", "r.id",
                          DB_PARAMS(DBT(admin_arg(ax, "cuisine")), DBT(hidden)), fix, ei);
}

static int recipes_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax),
                            "SELECT " COLS " FROM recipes r JOIN vendor_profiles v ON v.id = "
                            "r.chef_id WHERE r.id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "recipe", row);
    return SOUK_OK;
}

static int hide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "recipe", 1, ei);
}

static int unhide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "recipe", 0, ei);
}

static const struct admin_action actions[] = {
    {"hide", ADMIN_R_STAFF, hide, "Recipe hidden.", 0},
    {"unhide", ADMIN_R_STAFF, unhide, "Recipe shown again.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_recipes = {
    .slug = "recipes", .title = "Recipes", .roles = ADMIN_R_STAFF,
    .list = recipes_list_page, .detail = recipes_detail, .actions = actions,
};
