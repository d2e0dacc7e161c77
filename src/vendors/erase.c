/* erase.c - the vendors module's part of the export and the erasure
 * (userdata.h): the vendor profile and its plans. An erased vendor's profile
 * stays, anonymised ("Deleted vendor", erased_at set), because orders,
 * payments and reviews keep pointing at it; it leaves every list. Its plans
 * are retired by the subscriptions part, which knows which of them the
 * remaining subscriptions still name.
 */
#include <stdio.h>

#include "core/clock.h"
#include "db/db.h"
#include "userdata/userdata.h"
#include "vendors/vendors.h"

static int vendor_of(struct db_conn *c, const char *user_id, char vendor_id[37],
                     struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c, "SELECT id FROM vendor_profiles WHERE user_id = $1",
                       DB_PARAMS(DBT(user_id)), &r, ei);

    if (err)
        return err;
    snprintf(vendor_id, 37, "%s", db_nrows(r) == 1 ? db_get(r, 0, 0) : "");
    db_res_free(r);
    return SOUK_OK;
}

static int export_profile(struct db_conn *c, const struct userdata_who *w, json_t **out,
                          struct souk_errinfo *ei)
{
    struct vendor_profile p;
    int err;

    *out = NULL;
    if (!w->vendor_id[0])
        return SOUK_OK;
    if ((err = vendors_get_tx(c, w->vendor_id, w->a, &p, ei)))
        return err;
    *out = vendors_profile_to_json(&p);
    return SOUK_OK;
}

static int export_plans(struct db_conn *c, const struct userdata_who *w, json_t **out,
                        struct souk_errinfo *ei)
{
    struct plan *plans;
    int n = 0, err;

    *out = json_array();
    if (!w->vendor_id[0])
        return SOUK_OK;
    if ((err = vendors_plans_tx(c, w->vendor_id, 1, w->a, &plans, &n, ei)))
        return err;
    for (int i = 0; i < n; i++)
        json_array_append_new(*out, vendors_plan_to_json(&plans[i]));
    return SOUK_OK;
}

static int erase_profile(struct db_conn *c, const struct userdata_who *w,
                         struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    int err;

    if (!w->vendor_id[0])
        return SOUK_OK;
    err = db_exec(c,
                      "UPDATE vendor_profiles SET business_name = 'Deleted vendor', address = '', "
                      "bio = '', specialties = '[]', city = '', is_verified = $2, erased_at = $3, "
                      "updated_at = $3 WHERE id = $1",
                      DB_PARAMS(DBT(w->vendor_id), DBB(0), DBI(now)), NULL, ei);
    return err;
}

static const struct userdata_part profile_part = {
    .key = "vendor_profile", .export_fn = export_profile, .erase = erase_profile, .order = 900};
static const struct userdata_part plans_part = {.key = "plans", .export_fn = export_plans,
                                                .order = 900};

void vendors_init(void)
{
    userdata_set_vendor_lookup(vendor_of);
    userdata_register(&profile_part);
    userdata_register(&plans_part);
}
