/* app.c - the list of modules. A new domain adds its init and register
 * calls here, in dependency order: identity, then jobs and notifications
 * (used by everything after), then payments, then the marketplaces. */
#include "core/bus.h"
#include "app.h"
#include "audit/audit.h"
#include "core/ratelimit.h"
#include "admin/admin.h"
#include "auctions/auctions.h"
#include "auth/auth.h"
#include "blog/blog.h"
#include "catalog/catalog.h"
#include "core/config.h"
#include "http/http.h"
#include "http/ops.h"
#include "jobs/jobs.h"
#include "listings/listings.h"
#include "mail/mail.h"
#include "moderation/moderation.h"
#include "media/media.h"
#include "messaging/messaging.h"
#include "notify/notify.h"
#include "orders/orders.h"
#include "payments/payments.h"
#include "projects/projects.h"
#include "promotions/promotions.h"
#include "recipes/recipes.h"
#include "requests/requests.h"
#include "subscriptions/subscriptions.h"
#include "userdata/userdata.h"
#include "users/users.h"
#include "vendors/vendors.h"
#include "testjobs.h"

void app_register_routes(struct router *r)
{
    ops_http_register(r);
    users_http_register(r);
    vendors_http_register(r);
    notify_http_register(r);
    jobs_http_register(r);
    payments_http_register(r);
    recipes_http_register(r);
    subscriptions_http_register(r);
    auctions_http_register(r);
    catalog_http_register(r);
    orders_http_register(r);
    audit_http_register(r);
    moderation_http_register(r);
    userdata_http_register(r);
    admin_http_register(r);
    projects_http_register(r);
    projects_media_http_register(r);
    requests_http_register(r);
    promotions_http_register(r);
    blog_http_register(r);
    listings_http_register(r);
    messaging_http_register(r);
    ops_schema_finalize(r); /* last: the schema lists what this router serves */
}

/* Everything a node needs before it serves or runs jobs, except the job
 * workers themselves. */
int app_init_modules(struct db *db, struct souk_errinfo *ei)
{
    int err;

    if (ratelimit_init(souk_cfg ? souk_cfg->redis_url : NULL))
        return souk_fail(ei, SOUK_INVALID, "SOUK_REDIS_URL: not a valid redis:// URL");
    if ((err = bus_start(souk_cfg ? souk_cfg->redis_url : NULL, ei)))
        return err;
    if ((err = auth_init(db, ei)))
        return err;
    users_init();
    vendors_init();
    testjobs_init();
    mail_init();
    notify_set_deliver(sse_publish);
    if ((err = notify_init(db, souk_cfg ? souk_cfg->redis_url : NULL, ei)))
        return err;
    if ((err = payments_init(db, ei)))
        return err;
    if ((err = recipes_init(db, ei)) || (err = subscriptions_init(db, ei)) ||
        (err = auctions_init(db, ei)))
        return err;
    if ((err = catalog_init(db, ei)) || (err = orders_init(db, ei)))
        return err;
    if ((err = moderation_init(db, ei)))
        return err;
    reviews_moderation_register();
    requests_userdata_register();
    if ((err = projects_init(db, ei)) || (err = promotions_init(db, ei)))
        return err;
    size_t per_file, per_body;
    projects_upload_limits(&per_file, &per_body);
    http_multipart_config(media_tmp_dir(), per_file, per_body);
    if ((err = listings_init(db, ei)) || (err = messaging_init(db, ei)))
        return err;
    return SOUK_OK;
}

int app_init(struct db *db, struct souk_errinfo *ei)
{
    int err = app_init_modules(db, ei);
    if (err)
        return err;
    return jobs_start(db, souk_cfg ? souk_cfg->job_workers : 0, ei);
}

void app_shutdown(void)
{
    jobs_stop(souk_cfg ? souk_cfg->shutdown_timeout : 5);
    bus_stop();
    subscriptions_shutdown();
    payments_shutdown();
    notify_shutdown();
    auth_shutdown();
    ratelimit_shutdown();
}
