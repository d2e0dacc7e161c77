/* test_recipes.c - the access rule (src/recipes/access.c) and the subscription status cache
 * (src/subscriptions/cache.c) on SQLite :memory: with every migration applied.
 *
 * Rows are written with plain SQL (users, a chef, plans, recipes, subscriptions) so that each
 * case states exactly the situation it checks; the code under test reads them back.
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "recipes/recipes.h"
#include "subscriptions/subscriptions.h"

struct fx {
    struct db *db;
    struct db_conn *c;
    struct arena *a;
    char chef_user[37], chef[37], fan[37], plan1[37], plan2[37];
    char free_r[37], prem1[37], prem2[37];
};

static void exec(struct db_conn *c, const char *sql, const struct db_param *p, int np)
{
    struct souk_errinfo ei = {0};
    int err = db_exec(c, sql, p, np, NULL, &ei);
    if (err)
        fail_msg("%s: %s", sql, ei.detail);
}

static void user(struct db_conn *c, char id[37], const char *role)
{
    char email[80];
    uuid_v7(id);
    snprintf(email, sizeof email, "%s@example.com", id);
    exec(c,
         "INSERT INTO users (id, email, password_hash, role, joined_at, updated_at) "
         "VALUES ($1, $2, 'x', $3, 0, 0)",
         DB_PARAMS(DBT(id), DBT(email), DBT(role)));
}

static void plan(struct db_conn *c, const char *chef, char id[37], int rank)
{
    uuid_v7(id);
    exec(c,
         "INSERT INTO plans (id, vendor_id, name, price, billing_interval, rank, created_at, "
         "updated_at) VALUES ($1, $2, 'p', 500, 'month', $3, 0, 0)",
         DB_PARAMS(DBT(id), DBT(chef), DBI(rank)));
}

static void recipe_row(struct db_conn *c, const char *chef, char id[37], int premium, int rank)
{
    uuid_v7(id);
    exec(c,
         "INSERT INTO recipes (id, chef_id, title, is_premium, required_rank, created_at, "
         "updated_at) VALUES ($1, $2, 't', $3, $4, 0, 0)",
         DB_PARAMS(DBT(id), DBT(chef), DBB(premium), DBI(rank)));
}

static int setup(void **state)
{
    struct souk_errinfo ei = {0};
    struct fx *f = calloc(1, sizeof *f);
    int applied = 0;

    assert_int_equal(db_open("sqlite://:memory:", 1, &f->db, &ei), 0);
    assert_int_equal(db_migrate(f->db, &applied, NULL, &ei), 0);
    f->c = db_acquire(f->db, -1);
    f->a = arena_new(0);
    user(f->c, f->chef_user, "VENDOR");
    user(f->c, f->fan, "CUSTOMER");
    uuid_v7(f->chef);
    exec(f->c,
         "INSERT INTO vendor_profiles (id, user_id, business_name, created_at, updated_at) "
         "VALUES ($1, $2, 'Chez', 0, 0)",
         DB_PARAMS(DBT(f->chef), DBT(f->chef_user)));
    plan(f->c, f->chef, f->plan1, 1);
    plan(f->c, f->chef, f->plan2, 2);
    recipe_row(f->c, f->chef, f->free_r, 0, 1);
    recipe_row(f->c, f->chef, f->prem1, 1, 1);
    recipe_row(f->c, f->chef, f->prem2, 1, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    subscriptions_cache_invalidate(f->fan);
    arena_free(f->a);
    db_release(f->c);
    db_close(f->db);
    free(f);
    return 0;
}

static enum recipe_access check(struct fx *f, const char *user_id, int role, const char *rid)
{
    struct recipe_viewer v = {user_id, role};
    struct souk_errinfo ei = {0};
    struct recipe_access_ctx ctx;
    enum recipe_access acc;
    struct recipe r;

    assert_int_equal(recipes_get(f->c, rid, f->a, &r, &ei), 0);
    recipes_access_begin(&ctx, f->c, &v);
    assert_int_equal(recipes_access_check(&ctx, &r, &acc, &ei), 0);
    return acc;
}

static void subscribe(struct fx *f, const char *plan_id, const char *status, int cancel,
                      int64_t end, int64_t grace)
{
    char id[37];
    uuid_v7(id);
    exec(f->c,
         "INSERT INTO subscriptions (id, user_id, chef_id, plan_id, status, "
         "cancel_at_period_end, current_period_start, current_period_end, grace_until, "
         "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, 0, 0)",
         DB_PARAMS(DBT(id), DBT(f->fan), DBT(f->chef), DBT(plan_id), DBT(status), DBB(cancel),
                   DBI(end), grace ? DBI(grace) : DBNULL));
    subscriptions_cache_invalidate(f->fan);
}

static void test_owner_staff_anonymous(void **state)
{
    struct fx *f = *state;

    assert_int_equal(check(f, NULL, 0, f->free_r), RECIPE_OPEN);
    assert_int_equal(check(f, NULL, 0, f->prem1), RECIPE_LOCKED);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem1), RECIPE_LOCKED);
    assert_int_equal(check(f, f->chef_user, AUTH_ROLE_VENDOR, f->prem2), RECIPE_OPEN);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_MODERATOR, f->prem2), RECIPE_OPEN);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_ADMIN, f->prem2), RECIPE_OPEN);
}

static void test_subscription_rank_and_time(void **state)
{
    struct fx *f = *state;
    int64_t now = clock_now_us(), hour = INT64_C(3600) * 1000000;

    subscribe(f, f->plan1, "active", 0, now + hour, 0);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem1), RECIPE_OPEN);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem2), RECIPE_LOCKED);
    exec(f->c, "UPDATE subscriptions SET plan_id = $1", DB_PARAMS(DBT(f->plan2)));
    subscriptions_cache_invalidate(f->fan);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem2), RECIPE_OPEN);
    /* a pending cancel whose period is over grants nothing, job or not */
    exec(f->c, "UPDATE subscriptions SET cancel_at_period_end = 1, current_period_end = $1",
         DB_PARAMS(DBI(now - 1)));
    subscriptions_cache_invalidate(f->fan);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem1), RECIPE_LOCKED);
    /* past_due: until grace_until */
    exec(f->c,
         "UPDATE subscriptions SET status = 'past_due', cancel_at_period_end = 0, "
         "grace_until = $1",
         DB_PARAMS(DBI(now + hour)));
    subscriptions_cache_invalidate(f->fan);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem1), RECIPE_OPEN);
    exec(f->c, "UPDATE subscriptions SET grace_until = $1", DB_PARAMS(DBI(now - 1)));
    subscriptions_cache_invalidate(f->fan);
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem1), RECIPE_LOCKED);
    exec(f->c, "DELETE FROM subscriptions", DB_NOPARAMS);
}

static void test_cache_hit_needs_invalidation(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    int rank = -1;

    subscribe(f, f->plan1, "active", 0, clock_now_us() + INT64_C(3600) * 1000000, 0);
    assert_int_equal(subscriptions_grant_rank(f->c, f->fan, f->chef, &rank, &ei), 0);
    assert_int_equal(rank, 1);
    exec(f->c, "UPDATE subscriptions SET status = 'canceled'", DB_NOPARAMS);
    /* cached: the row changed behind the cache's back, no query was made */
    assert_int_equal(subscriptions_grant_rank(f->c, f->fan, f->chef, &rank, &ei), 0);
    assert_int_equal(rank, 1);
    subscriptions_cache_invalidate(f->fan);
    assert_int_equal(subscriptions_grant_rank(f->c, f->fan, f->chef, &rank, &ei), 0);
    assert_int_equal(rank, 0);
    exec(f->c, "DELETE FROM subscriptions", DB_NOPARAMS);
}

static void test_purchase_and_prefetch(void **state)
{
    struct fx *f = *state;
    struct recipe_viewer v = {f->fan, AUTH_ROLE_CUSTOMER};
    struct souk_errinfo ei = {0};
    struct recipe_access_ctx ctx;
    enum recipe_access acc;
    struct recipe rs[2];
    char id[37];

    uuid_v7(id);
    exec(f->c,
         "INSERT INTO recipe_purchases (id, recipe_id, user_id, attempt, status, "
         "created_at, updated_at) VALUES ($1, $2, $3, 1, 'paid', 0, 0)",
         DB_PARAMS(DBT(id), DBT(f->prem2), DBT(f->fan)));
    assert_int_equal(check(f, f->fan, AUTH_ROLE_CUSTOMER, f->prem2), RECIPE_OPEN);
    assert_int_equal(recipes_get(f->c, f->prem1, f->a, &rs[0], &ei), 0);
    assert_int_equal(recipes_get(f->c, f->prem2, f->a, &rs[1], &ei), 0);
    recipes_access_begin(&ctx, f->c, &v);
    assert_int_equal(recipes_access_prefetch(&ctx, rs, 2, &ei), 0);
    assert_int_equal(ctx.npurchased, 1);
    assert_int_equal(recipes_access_check(&ctx, &rs[0], &acc, &ei), 0);
    assert_int_equal(acc, RECIPE_LOCKED);
    assert_int_equal(recipes_access_check(&ctx, &rs[1], &acc, &ei), 0);
    assert_int_equal(acc, RECIPE_OPEN);
}

static int exclusive_all(struct db_conn *c, const struct recipe *r, const char *user_id,
                         int *exclusive, int *winner, struct souk_errinfo *ei)
{
    (void)c;
    (void)r;
    (void)ei;
    *exclusive = 1;
    *winner = user_id && strcmp(user_id, "00000000-0000-7000-8000-000000000001") == 0;
    return 0;
}

static void test_exclusive_hook(void **state)
{
    struct fx *f = *state;

    recipes_set_exclusive_hook(exclusive_all);
    assert_int_equal(check(f, NULL, 0, f->free_r), RECIPE_EXCLUSIVE);
    assert_int_equal(check(f, "00000000-0000-7000-8000-000000000001", AUTH_ROLE_CUSTOMER, f->prem2),
                     RECIPE_OPEN);
    assert_int_equal(check(f, f->chef_user, AUTH_ROLE_VENDOR, f->prem2), RECIPE_OPEN);
    recipes_set_exclusive_hook(NULL);
}

/* ---- the search filter (visible.c): locked text never matches ---------------------------- */

static void text_recipe(struct fx *f, char id[37], int premium, const char *title,
                        const char *ingredients, int64_t at)
{
    uuid_v7(id);
    exec(f->c,
         "INSERT INTO recipes (id, chef_id, title, summary, ingredients, is_premium, "
         "required_rank, created_at, updated_at) VALUES ($1, $2, $3, 'A dish', $4, $5, 1, $6, $6)",
         DB_PARAMS(DBT(id), DBT(f->chef), DBT(title), DBT(ingredients), DBB(premium), DBI(at)));
}

/* The ids of a search for q, as user_id (NULL: anonymous) sees it, page size `size`. */
static int search(struct fx *f, const char *user_id, int role, const char *q, int size,
                  struct recipe_page *pg)
{
    struct recipe_viewer v = {user_id, role};
    struct recipe_filter flt = {.q = q, .max_cook_minutes = -1, .is_premium = -1};
    struct recipe_cursor cur = {0};
    struct souk_errinfo ei = {0};
    int err = recipes_list_visible_tx(f->c, &v, &flt, &cur, size, f->a, pg, &ei);

    if (err)
        fail_msg("search %s: %s", q, ei.detail);
    return pg->n;
}

static int has(const struct recipe_page *pg, const char *id, enum recipe_access acc)
{
    for (int i = 0; i < pg->n; i++)
        if (!strcmp(pg->rows[i].id, id))
            return pg->acc[i] == acc;
    return 0;
}

static void test_locked_text_never_matches(void **state)
{
    struct fx *f = *state;
    char open_r[37], titled[37], hidden_in[37];
    struct recipe_page pg;

    text_recipe(f, open_r, 0, "Stew", "[\"zebrafish\"]", 10);
    text_recipe(f, titled, 1, "Zebrafish pie", "[\"flour\"]", 20);
    text_recipe(f, hidden_in, 1, "Secret soup", "[\"zebrafish\"]", 30);
    /* anonymous and a fan without a subscription: the free recipe (open) and the premium one
     * whose title matched (locked); never the one that matched in its locked ingredients */
    for (int who = 0; who < 2; who++) {
        assert_int_equal(search(f, who ? f->fan : NULL, who ? AUTH_ROLE_CUSTOMER : 0,
                                "zebrafish", 10, &pg), 2);
        assert_true(has(&pg, open_r, RECIPE_OPEN));
        assert_true(has(&pg, titled, RECIPE_LOCKED));
        assert_false(has(&pg, hidden_in, RECIPE_LOCKED) || has(&pg, hidden_in, RECIPE_OPEN));
        /* a prefix of the word is no way round it */
        assert_int_equal(search(f, who ? f->fan : NULL, who ? AUTH_ROLE_CUSTOMER : 0, "zebraf",
                                10, &pg), 2);
    }
    /* the chef, and a subscriber whose plan opens it, find all three */
    assert_int_equal(search(f, f->chef_user, AUTH_ROLE_VENDOR, "zebrafish", 10, &pg), 3);
    assert_true(has(&pg, hidden_in, RECIPE_OPEN));
    subscribe(f, f->plan1, "active", 0, clock_now_us() + 3600000000LL, 0);
    assert_int_equal(search(f, f->fan, AUTH_ROLE_CUSTOMER, "zebrafish", 10, &pg), 3);
    assert_true(has(&pg, hidden_in, RECIPE_OPEN));
}

/* Dropped rows do not shorten the page: the search reads on in batches. */
static void test_search_reads_on_past_dropped_rows(void **state)
{
    struct fx *f = *state;
    char id[37], older[2][37];
    struct recipe_page pg;

    text_recipe(f, older[0], 0, "Quince jam", "[]", 1);
    text_recipe(f, older[1], 0, "Quince tart", "[]", 2);
    for (int i = 0; i < 25; i++) /* newer, premium, matching only in locked ingredients */
        text_recipe(f, id, 1, "Plain", "[\"quince\"]", 100 + i);
    assert_int_equal(search(f, NULL, 0, "quince", 5, &pg), 2);
    assert_true(has(&pg, older[0], RECIPE_OPEN) && has(&pg, older[1], RECIPE_OPEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_owner_staff_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_rank_and_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_needs_invalidation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purchase_and_prefetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_text_never_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_reads_on_past_dropped_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
