/* erase.c - the subscriptions module's part of the export and the erasure
 * (userdata.h). An erased user's subscriptions, and their subscribers'
 * subscriptions to them, end now without refund (cancelled at the provider
 * by a job); the rows stay for the accounting period. The erased vendor's
 * plans go, except those that remaining subscriptions still name, which
 * are anonymised and deactivated.
 */
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "db/db.h"
#include "db/keyset.h"
#include "subscriptions/internal.h"
#include "subscriptions/subscriptions.h"
#include "userdata/userdata.h"

#define EXPORT_MAX 10000

static int export_subs(struct db_conn *c, const struct userdata_who *w, json_t **out,
                       struct souk_errinfo *ei)
{
    struct keyset ks = {.limit = EXPORT_MAX};
    struct subs_list l = {w->user_id, "all", &ks, w->a, NULL, 0};
    int err = subs_list_rows(c, &l, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < l.n; i++)
        json_array_append_new(*out, subscriptions_to_json(&l.rows[i]));
    return SOUK_OK;
}

static int end_one(struct db_conn *c, const char *id, struct arena *a, struct souk_errinfo *ei)
{
    struct subs_cause why = {"system", NULL, NULL, "account erased"};
    struct subscription s;
    char from[12];
    int err = subs_load(c, id, 1, a, &s, ei);

    if (err || subs_is_final(&s))
        return err;
    snprintf(from, sizeof from, "%s", s.status);
    subs_end(&s, "canceled");
    if ((err = subs_commit_change(c, from, &s, &why, a, ei)))
        return err;
    return subs_provider_job(c, &s, "cancel_now", ei);
}

static int retire_plans(struct db_conn *c, const char *vendor_id, struct souk_errinfo *ei)
{
    int err = db_exec(c,
                      "DELETE FROM plans WHERE vendor_id = $1 AND NOT EXISTS (SELECT 1 FROM "
                      "subscriptions s WHERE s.plan_id = plans.id OR "
                      "s.pending_plan_id = plans.id)",
                      DB_PARAMS(DBT(vendor_id)), NULL, ei);
    if (err)
        return err;
    return db_exec(c,
                   "UPDATE plans SET name = 'Deleted plan', description = '', is_active = $2, "
                   "updated_at = $3 WHERE vendor_id = $1",
                   DB_PARAMS(DBT(vendor_id), DBB(0), DBI(clock_now_us())), NULL, ei);
}

static int erase_subs(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT id FROM subscriptions WHERE (user_id = $1 OR chef_id = $2) AND "
                       "status IN ('incomplete', 'active', 'past_due')",
                       DB_PARAMS(DBT(w->user_id), DBT(w->vendor_id[0] ? w->vendor_id : w->user_id)),
                       &r, ei);

    if (err)
        return err;
    for (int i = 0; !err && i < db_nrows(r); i++)
        err = end_one(c, db_get(r, i, 0), w->a, ei);
    db_res_free(r);
    if (!err && w->vendor_id[0])
        err = retire_plans(c, w->vendor_id, ei);
    return err;
}

static const struct userdata_part part = {
    .key = "subscriptions", .export_fn = export_subs, .erase = erase_subs, .order = 200};

void subs_userdata_register(void)
{
    userdata_register(&part);
}
