/* userdata.c - the export and the erasure over every registered part: see
 * userdata.h. Owns no table.
 */
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
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
