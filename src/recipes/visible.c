/* visible.c - a page of the recipes a viewer may see: recipes_list read in
 * batches, every row through the access rule (access.c). A search drops a
 * row whose match needed text the viewer may not open (the ingredients and
 * instructions of a locked or exclusive recipe; recipe.public_match tells
 * whether title and summary alone matched) and reads on until the page is
 * full, so locked text never leaks through a search result, not even as
 * the fact that it matched. tests/unit/test_recipes.c proves it.
 *
 * Thread safety: stateless; the rows live in the caller's arena.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "db/db.h"
#include "recipes/recipes.h"

#define SEARCH_BATCHES_MAX 20

json_t *recipes_sort_key(const struct recipe *r, enum recipe_order o)
{
    if (o == RECIPE_ORDER_TITLE || o == RECIPE_ORDER_TITLE_DESC)
        return json_string(r->title);
    if (o == RECIPE_ORDER_COOK || o == RECIPE_ORDER_COOK_DESC)
        return json_integer(r->cook_minutes);
    return json_integer(r->created_at);
}

struct visible_args {
    const struct recipe_viewer *v;
    const struct recipe_filter *f;
    struct recipe_cursor cur; /* advanced past each batch */
    int want;
    struct arena *a;
    struct recipe_page *out;
};

/* One batch: fetch, check access, keep what the viewer may see matched. */
static int batch(struct db_conn *c, struct visible_args *x, int *fetched, struct souk_errinfo *ei)
{
    struct recipe_access_ctx ctx;
    struct recipe *rs;
    int n, err;

    if ((err = recipes_list(c, x->f, &x->cur, x->want, x->a, &rs, &n, ei)))
        return err;
    *fetched = n;
    recipes_access_begin(&ctx, c, x->v);
    if ((err = recipes_access_prefetch(&ctx, rs, n, ei)))
        return err;
    for (int i = 0; i < n && x->out->n < x->want; i++) {
        enum recipe_access acc;
        if ((err = recipes_access_check(&ctx, &rs[i], &acc, ei)))
            return err;
        if (x->f->q && acc != RECIPE_OPEN && !rs[i].public_match)
            continue; /* matched only through fields the viewer may not see */
        x->out->rows[x->out->n] = rs[i];
        x->out->acc[x->out->n++] = acc;
    }
    if (n > 0) { /* read on after the last fetched row, same direction */
        json_t *k = recipes_sort_key(&rs[n - 1], x->f->order);
        x->cur.has = 1;
        x->cur.k_int = json_integer_value(k);
        x->cur.k_str = arena_strdup(x->a, json_string_value(k));
        snprintf(x->cur.id, sizeof x->cur.id, "%s", rs[n - 1].id);
        json_decref(k);
    }
    return 0;
}

int recipes_list_visible_tx(struct db_conn *c, const struct recipe_viewer *v,
                            const struct recipe_filter *f, const struct recipe_cursor *cur,
                            int size, struct arena *a, struct recipe_page *out,
                            struct souk_errinfo *ei)
{
    struct visible_args x = {v, f, *cur, size + 1, a, out};
    int fetched = 0, err;

    memset(out, 0, sizeof *out);
    out->rows = arena_calloc(a, (size_t)x.want, sizeof *out->rows);
    out->acc = arena_calloc(a, (size_t)x.want, sizeof *out->acc);
    for (int b = 0; b < SEARCH_BATCHES_MAX && out->n < x.want; b++) {
        if ((err = batch(c, &x, &fetched, ei)))
            return err;
        if (fetched < x.want || !f->q)
            break;
    }
    return 0;
}

struct run_args {
    const struct recipe_viewer *v;
    const struct recipe_filter *f;
    const struct recipe_cursor *cur;
    int size;
    struct arena *a;
    struct recipe_page *out;
};

static int run_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct run_args *r = arg;
    return recipes_list_visible_tx(c, r->v, r->f, r->cur, r->size, r->a, r->out, ei);
}

int recipes_list_visible(struct db *db, const struct recipe_viewer *v,
                         const struct recipe_filter *f, const struct recipe_cursor *cur, int size,
                         struct arena *a, struct recipe_page *out, struct souk_errinfo *ei)
{
    struct run_args r = {v, f, cur, size, a, out};
    return db_run(db, run_fn, &r, ei);
}
