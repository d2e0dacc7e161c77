/* userdata.c - the export and the erasure over every registered part: see
 * userdata.h. Owns no table.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/money.h"
#include "db/db.h"
#include "userdata/userdata.h"

static const struct userdata_part *parts[USERDATA_PARTS_MAX];
static int nparts;
static userdata_vendor_fn vendor_lookup;
static userdata_auth_fn authenticator;
static userdata_email_fn email_lookup;

void userdata_set_email_lookup(userdata_email_fn fn)
{
    email_lookup = fn;
}

/* The export keys of the contract, in its order: each is present even when
 * no part filled it (an empty list, or null for the single objects). */
static const char *const export_keys[] = {
    "user", "vendor_profile", "plans", "recipes", "subscriptions", "purchases", "payments",
    "orders", "bids", "projects", "favorites", "requests", "reviews", "promotions", "listings",
    "threads", "reports", "notifications", NULL};

void userdata_register(const struct userdata_part *p)
{
    int i = nparts;

    for (int k = 0; k < nparts; k++)
        if (parts[k] == p)
            return; /* registered already (an init that runs twice) */
    if (nparts == USERDATA_PARTS_MAX) {
        log_error("userdata: too many parts");
        return;
    }
    while (i > 0 && parts[i - 1]->order > p->order) { /* keep them sorted by order */
        parts[i] = parts[i - 1];
        i--;
    }
    parts[i] = p;
    nparts++;
}

void userdata_set_vendor_lookup(userdata_vendor_fn fn)
{
    vendor_lookup = fn;
}

void userdata_set_authenticator(userdata_auth_fn fn)
{
    authenticator = fn;
}

static int who_init(struct db_conn *c, const char *user_id, struct arena *a, char vid[37],
                    struct userdata_who *w, struct souk_errinfo *ei)
{
    char *email = arena_calloc(a, 1, 256);
    int err;

    vid[0] = '\0';
    w->user_id = user_id;
    w->vendor_id = vid;
    w->email = email;
    w->a = a;
    if (email_lookup && (err = email_lookup(c, user_id, email, ei)))
        return err;
    return vendor_lookup ? vendor_lookup(c, user_id, vid, ei) : SOUK_OK;
}

/* ---- export ------------------------------------------------------------------- */

static json_t *cell(const struct db_res *r, int i, int col, char type)
{
    const char *s = db_get(r, i, col);

    if (!s)
        return json_null();
    switch (type) {
    case 'i':
        return json_integer(db_int(r, i, col));
    case 'f':
        return json_real(strtod(s, NULL));
    case 'b':
        return json_boolean(db_bool(r, i, col));
    case 't':
        return json_time(db_int(r, i, col));
    case 'm':
        return money_to_json(db_int(r, i, col));
    case 'j': {
        json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    default:
        return json_string(s);
    }
}

int userdata_rows(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  const char *types, json_t **out, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c, sql, p, np, &r, ei);
    size_t ntypes = strlen(types);

    *out = NULL;
    if (err)
        return err;
    if ((size_t)db_ncols(r) != ntypes) {
        db_res_free(r);
        return souk_fail(ei, SOUK_INTERNAL, "userdata_rows: %d columns, %zu types", db_ncols(r),
                         ntypes);
    }
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++) {
        json_t *o = json_object();
        for (int col = 0; col < db_ncols(r); col++)
            json_object_set_new(o, db_colname(r, col), cell(r, i, col, types[col]));
        json_array_append_new(*out, o);
    }
    db_res_free(r);
    return SOUK_OK;
}

/* ---- export ------------------------------------------------------------------- */

struct export_args {
    const char *user_id;
    json_t *doc;
};

static int export_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct export_args *x = arg;
    struct arena *a = arena_new(0);
    struct userdata_who w;
    char vid[37];
    int err = who_init(c, x->user_id, a, vid, &w, ei);

    json_object_clear(x->doc);
    json_object_set_new(x->doc, "exported_at", json_time(clock_now_us()));
    for (int i = 0; export_keys[i]; i++)
        json_object_set_new(x->doc, export_keys[i],
                            i < 2 ? json_null() : json_array()); /* user, vendor_profile */
    for (int i = 0; !err && i < nparts; i++) {
        json_t *v = NULL;
        if (!parts[i]->key || !parts[i]->export_fn)
            continue;
        if (!(err = parts[i]->export_fn(c, &w, &v, ei)))
            json_object_set_new(x->doc, parts[i]->key, v ? v : json_null());
    }
    arena_free(a);
    return err;
}

int userdata_export(struct db *db, const char *user_id, json_t **out, struct souk_errinfo *ei)
{
    struct export_args x = {user_id, json_object()};
    int err = db_tx_run(db, export_fn, &x, ei); /* one snapshot of everything */

    if (err) {
        json_decref(x.doc);
        x.doc = NULL;
    }
    *out = x.doc;
    return err;
}

/* ---- erasure ---------------------------------------------------------------------- */

struct erase_args {
    const char *user_id;
    const char *password;
};

static int erase_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct erase_args *e = arg;
    struct arena *a = arena_new(0);
    struct userdata_who w;
    char vid[37];
    int err = who_init(c, e->user_id, a, vid, &w, ei);

    for (int i = 0; !err && i < nparts; i++)
        if (parts[i]->check)
            err = parts[i]->check(c, &w, ei);
    for (int i = 0; !err && i < nparts; i++)
        if (parts[i]->erase)
            err = parts[i]->erase(c, &w, ei);
    if (!err) {
        json_t *after = json_pack("{s:b, s:s}", "erased", 1, "vendor_id", vid);
        err = audit_record(c, &(struct audit_actor){e->user_id, NULL}, "user.erase", "user",
                           e->user_id, NULL, after, NULL, ei);
        json_decref(after);
    }
    arena_free(a);
    return err;
}

int userdata_erase(struct db *db, const char *user_id, const char *password,
                   struct souk_errinfo *ei)
{
    int err = authenticator ? authenticator(db, user_id, password, ei)
                            : souk_fail(ei, SOUK_INTERNAL, "no authenticator for erasure");

    return err ? err : db_tx_run(db, erase_fn, &(struct erase_args){user_id, password}, ei);
}
