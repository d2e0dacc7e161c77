/* actions.c - what /api/recipes/{id}/ calls (recipes_http.c): the detail
 * with its access decision, and the owner's create, update and delete,
 * each owning its transaction. The rules are recipes.c's and access.c's.
 *
 * Thread safety: no shared state.
 */
#include "db/db.h"
#include "recipes/recipes.h"

struct one_args {
    const char *id, *chef_id;
    const struct recipe_in *in;
    const struct recipe_viewer *viewer;
    struct arena *a;
    struct recipe *out;
    enum recipe_access *acc;
};

static int open_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    struct recipe_access_ctx ctx;
    int err = recipes_get_cached(c, x->id, x->a, x->out, ei);

    if (err)
        return err;
    recipes_access_begin(&ctx, c, x->viewer);
    return recipes_access_check(&ctx, x->out, x->acc, ei);
}

int recipes_open(struct db *db, const char *id, const struct recipe_viewer *viewer,
                 struct arena *a, struct recipe *out, enum recipe_access *acc,
                 struct souk_errinfo *ei)
{
    struct one_args x = {.id = id, .viewer = viewer, .a = a, .out = out, .acc = acc};
    return db_run(db, open_fn, &x, ei);
}

static int read_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    return recipes_get(c, x->id, x->a, x->out, ei);
}

int recipes_read(struct db *db, const char *id, struct arena *a, struct recipe *out,
                 struct souk_errinfo *ei)
{
    struct one_args x = {.id = id, .a = a, .out = out};
    return db_run(db, read_fn, &x, ei);
}

static int add_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    return recipes_create(tx, x->chef_id, x->in, x->a, x->out, ei);
}

int recipes_add(struct db *db, const char *chef_id, const struct recipe_in *in, struct arena *a,
                struct recipe *out, struct souk_errinfo *ei)
{
    struct one_args x = {.chef_id = chef_id, .in = in, .a = a, .out = out};
    return db_tx_run(db, add_fn, &x, ei);
}

static int edit_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    return recipes_update(tx, x->id, x->in, x->a, x->out, ei);
}

int recipes_edit(struct db *db, const char *id, const struct recipe_in *in, struct arena *a,
                 struct recipe *out, struct souk_errinfo *ei)
{
    struct one_args x = {.id = id, .in = in, .a = a, .out = out};
    return db_tx_run(db, edit_fn, &x, ei);
}

static int remove_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    return recipes_delete(tx, x->id, ei);
}

int recipes_remove(struct db *db, const char *id, struct souk_errinfo *ei)
{
    struct one_args x = {.id = id};
    return db_tx_run(db, remove_fn, &x, ei);
}
