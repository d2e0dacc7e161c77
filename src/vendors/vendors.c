/* vendors.c - vendor profiles and plans: the tables vendor_profiles and
 * plans, and vendors_stats(), see vendors.h.
 *
 * Profiles are read with one column list (PROFILE_COLS) into struct
 * vendor_profile; specialties are kept as JSON text in both dialects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/password.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "projects/specialists.h"
#include "db/keyset.h"
#include "users/users.h"
#include "vendors/vendors.h"

#define PROFILE_COLS \
    "id, user_id, business_name, address, bio, specialties, city, is_verified, created_at, " \
    "categories"
#define PLAN_COLS \
    "id, vendor_id, name, description, price, currency, billing_interval, rank, is_active, " \
    "created_at"

/* ---- rows ---------------------------------------------------------------------- */

static void row_to_profile(const struct db_res *r, int i, struct arena *a,
                           struct vendor_profile *p)
{
    snprintf(p->id, sizeof p->id, "%s", db_get(r, i, 0));
    snprintf(p->user_id, sizeof p->user_id, "%s", db_get(r, i, 1));
    p->business_name = arena_strdup(a, db_get(r, i, 2));
    p->address = arena_strdup(a, db_get(r, i, 3));
    p->bio = arena_strdup(a, db_get(r, i, 4));
    p->specialties = arena_strdup(a, db_get(r, i, 5));
    p->city = arena_strdup(a, db_get(r, i, 6));
    p->is_verified = db_bool(r, i, 7);
    p->created_at = db_int(r, i, 8);
    p->categories = arena_strdup(a, db_get(r, i, 9) ? db_get(r, i, 9) : "[]");
}

static void row_to_plan(const struct db_res *r, int i, struct arena *a, struct plan *p)
{
    snprintf(p->id, sizeof p->id, "%s", db_get(r, i, 0));
    snprintf(p->vendor_id, sizeof p->vendor_id, "%s", db_get(r, i, 1));
    p->name = arena_strdup(a, db_get(r, i, 2));
    p->description = arena_strdup(a, db_get(r, i, 3));
    p->price = db_int(r, i, 4);
    snprintf(p->currency, sizeof p->currency, "%s", db_get(r, i, 5));
    snprintf(p->interval, sizeof p->interval, "%s", db_get(r, i, 6));
    p->rank = (int)db_int(r, i, 7);
    p->is_active = db_bool(r, i, 8);
    p->created_at = db_int(r, i, 9);
}

json_t *vendors_profile_to_json(const struct vendor_profile *p)
{
    json_t *spec = json_loads(p->specialties ? p->specialties : "[]", 0, NULL);

    if (!json_is_array(spec)) {
        json_decref(spec);
        spec = json_array();
    }
    json_t *cats = json_loads(p->categories ? p->categories : "[]", 0, NULL);
    if (!json_is_array(cats)) {
        json_decref(cats);
        cats = json_array();
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:b, s:o}", "id", p->id,
                     "user_id", p->user_id, "business_name", p->business_name, "address",
                     p->address, "bio", p->bio, "specialties", spec, "city", p->city,
                     "categories", cats, "is_verified", p->is_verified, "created_at",
                     json_time(p->created_at));
}

json_t *vendors_plan_to_json(const struct plan *p)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:s, s:b, s:o}", "id", p->id,
                     "chef_id", p->vendor_id, "name", p->name, "price", money_to_json(p->price),
                     "currency", p->currency, "interval", p->interval, "rank", p->rank,
                     "description", p->description, "is_active", p->is_active, "created_at",
                     json_time(p->created_at));
}

/* Specialties as JSON text (arena); NULL input -> NULL (unchanged). */
static const char *specialties_text(struct arena *a, const json_t *arr)
{
    char *txt, *out;

    if (!arr)
        return NULL;
    txt = json_dumps(arr, JSON_COMPACT);
    out = arena_strdup(a, txt ? txt : "[]");
    free(txt);
    return out;
}

/* ---- one profile ---------------------------------------------------------------- */

struct get_args {
    const char *key; /* id or user_id */
    int by_user;
    struct arena *a;
    struct vendor_profile *out;
};

static int get_tx(struct db_conn *c, struct get_args *g, struct souk_errinfo *ei)
{
    struct db_res *res;
    int err = db_query(c,
                       g->by_user ? "SELECT " PROFILE_COLS " FROM vendor_profiles WHERE user_id = $1"
                                  : "SELECT " PROFILE_COLS " FROM vendor_profiles WHERE id = $1",
                       DB_PARAMS(DBT(g->key)), &res, ei);

    if (err)
        return err;
    if (db_nrows(res) == 1)
        row_to_profile(res, 0, g->a, g->out);
    else
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such vendor profile.");
    db_res_free(res);
    return err;
}

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    return get_tx(c, arg, ei);
}

int vendors_get_tx(struct db_conn *c, const char *id, struct arena *a, struct vendor_profile *out,
                   struct souk_errinfo *ei)
{
    return get_tx(c, &(struct get_args){id, 0, a, out}, ei);
}

int vendors_get(struct db *db, const char *id, struct arena *a, struct vendor_profile *out,
                struct souk_errinfo *ei)
{
    return db_run(db, get_fn, &(struct get_args){id, 0, a, out}, ei);
}

int vendors_get_by_user(struct db *db, const char *user_id, struct arena *a,
                        struct vendor_profile *out, struct souk_errinfo *ei)
{
    return db_run(db, get_fn, &(struct get_args){user_id, 1, a, out}, ei);
}

/* Inserts a profile for user_id; SOUK_CONFLICT when the user has one. */
static int insert_tx(struct db_conn *c, const char *user_id, const struct vendor_in *in,
                     struct arena *a, struct vendor_profile *out, struct souk_errinfo *ei)
{
    const char *spec = specialties_text(a, in->specialties);
    char id[UUID_STR_LEN];
    int64_t now = clock_now_us();
    int err;

    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO vendor_profiles (id, user_id, business_name, address, bio, "
                  "specialties, city, is_verified, created_at, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                  DB_PARAMS(DBT(id), DBT(user_id), DBT(in->business_name),
                            DBT(in->address ? in->address : ""), DBT(in->bio ? in->bio : ""),
                            DBT(spec ? spec : "[]"), DBT(in->city ? in->city : ""), DBB(0),
                            DBI(now)),
                  NULL, ei);
    if (err == SOUK_CONFLICT)
        return souk_fail(ei, SOUK_CONFLICT, "This user already has a vendor profile.");
    if (!err && in->categories)
        err = specialist_set_categories(c, id, in->categories, ei);
    if (err)
        return err;
    return get_tx(c, &(struct get_args){id, 0, a, out}, ei);
}

struct create_args {
    const char *user_id;
    const struct vendor_in *in;
    struct arena *a;
    struct vendor_profile *out;
};

static int create_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct create_args *ca = arg;

    return insert_tx(c, ca->user_id, ca->in, ca->a, ca->out, ei);
}

int vendors_create(struct db *db, const char *user_id, const struct vendor_in *in,
                   struct arena *a, struct vendor_profile *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, create_fn, &(struct create_args){user_id, in, a, out}, ei);
}

struct update_args {
    const char *id;
    const struct vendor_in *in;
    int verified; /* -1: unchanged */
    struct arena *a;
    struct vendor_profile *out;
};

static int update_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct update_args *u = arg;
    const struct vendor_in *in = u->in;
    int64_t changed = 0;
    int err;

    err = db_exec(c,
                  "UPDATE vendor_profiles SET business_name = COALESCE($2, business_name), "
                  "address = COALESCE($3, address), bio = COALESCE($4, bio), "
                  "specialties = COALESCE($5, specialties), city = COALESCE($6, city), "
                  "is_verified = CASE WHEN $7 < 0 THEN is_verified ELSE $8 END, "
                  "updated_at = $9 WHERE id = $1",
                  DB_PARAMS(DBT(u->id), DBT(in->business_name), DBT(in->address), DBT(in->bio),
                            DBT(specialties_text(u->a, in->specialties)), DBT(in->city),
                            DBI(u->verified), DBB(u->verified > 0), DBI(clock_now_us())),
                  &changed, ei);
    if (err)
        return err;
    if (changed != 1)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such vendor profile.");
    if (in->categories && (err = specialist_set_categories(c, u->id, in->categories, ei)))
        return err;
    return get_tx(c, &(struct get_args){u->id, 0, u->a, u->out}, ei);
}

int vendors_update(struct db *db, const char *id, const struct vendor_in *in, struct arena *a,
                   struct vendor_profile *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, update_fn, &(struct update_args){id, in, -1, a, out}, ei);
}

struct verify_args {
    const struct audit_actor *actor;
    struct update_args u;
};

/* An ADMIN's verification: the update, and its audit entry. */
static int verify_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct verify_args *v = arg;
    struct vendor_profile before;
    int err;

    if ((err = get_tx(c, &(struct get_args){v->u.id, 0, v->u.a, &before}, ei)) ||
        (err = update_fn(c, &v->u, ei)))
        return err;
    json_t *b = json_pack("{s:b}", "is_verified", before.is_verified);
    json_t *af = json_pack("{s:b}", "is_verified", v->u.out->is_verified);
    err = audit_record(c, v->actor, "vendor.verify", "vendor", v->u.id, b, af, NULL, ei);
    json_decref(b), json_decref(af);
    return err;
}

int vendors_set_verified(struct db *db, const struct audit_actor *actor, const char *id,
                         int verified, struct arena *a, struct vendor_profile *out,
                         struct souk_errinfo *ei)
{
    static const struct vendor_in none;
    struct verify_args v = {actor, {id, &none, verified != 0, a, out}};

    return db_tx_run(db, verify_fn, &v, ei);
}

/* ---- chef registration: user + profile + tokens in one transaction ------------------ */

struct chef_args {
    const struct user_new *u;
    const char *email;
    const char *hash;
    const struct vendor_in *in;
    struct arena *a;
    struct vendor_profile *out;
    struct user *out_user;
    struct auth_tokens *tokens;
};

static int chef_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct chef_args *ca = arg;
    int err;

    if ((err = users_insert_tx(c, ca->u, ca->email, ca->hash, ca->out_user, ei)) ||
        (err = insert_tx(c, ca->out_user->id, ca->in, ca->a, ca->out, ei)))
        return err;
    return auth_issue_tx(c, ca->out_user->id, ca->out_user->role, ca->tokens, ei);
}

int vendors_register_chef(struct db *db, const struct user_new *u, const struct vendor_in *in,
                          struct arena *a, struct vendor_profile *out, struct user *out_user,
                          struct auth_tokens *tokens, struct souk_errinfo *ei)
{
    char email[USER_EMAIL_MAX + 1], hash[PASSWORD_HASH_MAX];
    struct chef_args ca = {u, email, hash, in, a, out, out_user, tokens};
    int err;

    if ((err = users_new_check(u, email, ei)) || (err = password_hash(u->password, hash, ei)))
        return err;
    return db_tx_run(db, chef_fn, &ca, ei);
}

/* ---- lists ---------------------------------------------------------------------------- */

struct list_args {
    const struct keyset *ks;
    struct arena *a;
    struct vendor_profile **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    char where[128], order[128];
    struct db_param p[] = {DBI(la->ks->k), DBT(la->ks->id)};
    struct db_res *res;
    const char *sql;
    int err;

    sql = arena_sprintf(la->a, "SELECT " PROFILE_COLS " FROM vendor_profiles WHERE erased_at IS NULL%s%s",
                        keyset_where(la->ks, "created_at", "id", 1, where, sizeof where),
                        keyset_order(la->ks, "created_at", "id", order, sizeof order));
    if ((err = db_query(c, sql, p, la->ks->has_cursor ? 2 : 0, &res, ei)))
        return err;
    *la->n = db_nrows(res);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++)
        row_to_profile(res, i, la->a, &(*la->out)[i]);
    db_res_free(res);
    return SOUK_OK;
}

int vendors_list(struct db *db, const struct keyset *ks, struct arena *a,
                 struct vendor_profile **out, int *n, struct souk_errinfo *ei)
{
    return db_run(db, list_fn, &(struct list_args){ks, a, out, n}, ei);
}

struct plans_args {
    const char *vendor_id;
    int with_inactive;
    struct arena *a;
    struct plan **out;
    int *n;
};

static int plans_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct plans_args *pa = arg;
    struct db_res *res;
    int err = db_query(c,
                       "SELECT " PLAN_COLS " FROM plans WHERE vendor_id = $1 "
                       "AND (is_active = $2 OR is_active = $3) ORDER BY rank, created_at, id",
                       DB_PARAMS(DBT(pa->vendor_id), DBB(1), DBB(!pa->with_inactive)), &res, ei);

    if (err)
        return err;
    *pa->n = db_nrows(res);
    *pa->out = arena_calloc(pa->a, (size_t)*pa->n + 1, sizeof **pa->out);
    for (int i = 0; i < *pa->n; i++)
        row_to_plan(res, i, pa->a, &(*pa->out)[i]);
    db_res_free(res);
    return SOUK_OK;
}

int vendors_plans_tx(struct db_conn *c, const char *vendor_id, int with_inactive,
                     struct arena *a, struct plan **out, int *n, struct souk_errinfo *ei)
{
    return plans_fn(c, &(struct plans_args){vendor_id, with_inactive, a, out, n}, ei);
}

int vendors_plans(struct db *db, const char *vendor_id, int with_inactive, struct arena *a,
                  struct plan **out, int *n, struct souk_errinfo *ei)
{
    return db_run(db, plans_fn, &(struct plans_args){vendor_id, with_inactive, a, out, n}, ei);
}

struct plan_args {
    const struct plan *in;
    struct arena *a;
    struct plan *out;
};

static int plan_create_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct plan_args *pa = arg;
    const struct plan *in = pa->in;
    char id[UUID_STR_LEN];
    struct db_res *res;
    int64_t now = clock_now_us();
    int err;

    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO plans (id, vendor_id, name, description, price, currency, "
                  "billing_interval, rank, is_active, created_at, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                  DB_PARAMS(DBT(id), DBT(in->vendor_id), DBT(in->name), DBT(in->description),
                            DBI(in->price), DBT(in->currency), DBT(in->interval), DBI(in->rank),
                            DBB(in->is_active), DBI(now)),
                  NULL, ei);
    if (err || (err = db_query(c, "SELECT " PLAN_COLS " FROM plans WHERE id = $1",
                               DB_PARAMS(DBT(id)), &res, ei)))
        return err;
    if (db_nrows(res) == 1)
        row_to_plan(res, 0, pa->a, pa->out);
    else
        err = souk_fail(ei, SOUK_INTERNAL, "plan vanished after insert");
    db_res_free(res);
    return err;
}

int vendors_plan_create(struct db *db, const struct plan *in, struct arena *a, struct plan *out,
                        struct souk_errinfo *ei)
{
    return db_tx_run(db, plan_create_fn, &(struct plan_args){in, a, out}, ei);
}

/* ---- statistics ----------------------------------------------------------------------------
 * THE place for numbers about a vendor: every endpoint that shows
 * subscriber_count, recipe_count, premium_recipe_count or is_subscribed
 * gets them from here. The counts come from the sources the owning domains
 * register (vendors.h: recipes, subscriptions), one grouped query per count
 * for a page of vendors; is_subscribed comes from the subscription status
 * cache. */
static const struct vendor_stats_source *sources[VENDOR_STATS_SOURCES_MAX];
static int nsources;

void vendors_register_stats(const struct vendor_stats_source *s)
{
    for (int i = 0; i < nsources; i++)
        if (sources[i] == s)
            return; /* an init that runs twice */
    if (nsources < VENDOR_STATS_SOURCES_MAX)
        sources[nsources++] = s;
}

struct stats_page_args {
    const char *const *ids;
    int n;
    const char *viewer;
    struct vendor_stats *out;
};

static int stats_page_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct stats_page_args *s = arg;
    int err = 0;

    for (int i = 0; !err && i < nsources; i++)
        err = sources[i]->fill(c, s->ids, s->n, s->viewer, s->out, ei);
    return err;
}

int vendors_stats(struct db *db, const char *vendor_id, const char *viewer_user_id,
                  struct vendor_stats *out, struct souk_errinfo *ei)
{
    const char *ids[1] = {vendor_id};

    memset(out, 0, sizeof *out);
    return db_run(db, stats_page_fn, &(struct stats_page_args){ids, 1, viewer_user_id, out}, ei);
}

int vendors_stats_page(struct db *db, const char *const *vendor_ids, int n,
                       const char *viewer_user_id, struct vendor_stats *out,
                       struct souk_errinfo *ei)
{
    int err = 0;

    if (n <= 0)
        return 0;
    memset(out, 0, (size_t)n * sizeof *out);
    /* A page fetches size + 1 rows (the extra one says whether more
     * exist), so n can exceed one batch: count in batches. */
    for (int at = 0; !err && at < n; at += VENDOR_STATS_BATCH_MAX) {
        int k = n - at < VENDOR_STATS_BATCH_MAX ? n - at : VENDOR_STATS_BATCH_MAX;
        err = db_run(db, stats_page_fn,
                     &(struct stats_page_args){vendor_ids + at, k, viewer_user_id, out + at}, ei);
    }
    return err;
}
