/* app.c - the list of modules. A new domain adds its register call here. */
#include "app.h"
#include "auth/auth.h"
#include "core/config.h"
#include "http/http.h"
#include "http/ops.h"
#include "users/users.h"
#include "vendors/vendors.h"

void app_register_routes(struct router *r)
{
    ops_http_register(r);
    users_http_register(r);
    vendors_http_register(r);
}

int app_init(struct db *db, struct souk_errinfo *ei)
{
    if (ratelimit_init(souk_cfg ? souk_cfg->redis_url : NULL))
        return souk_fail(ei, SOUK_INTERNAL, "rate limiter failed to start");
    return auth_init(db, ei);
}

void app_shutdown(void)
{
    auth_shutdown();
    ratelimit_shutdown();
}
