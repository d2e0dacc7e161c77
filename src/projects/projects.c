/* projects.c - projects of the home-services showcase: rules and SQL
 * (API.md § Home services). Nothing here is shared between threads.
 */
#include "projects/projects.h"

#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"

int projects_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei)
{
    int64_t changed = 0;
    if (!id || !uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    int err = db_exec(c,
                      hidden ? "UPDATE projects SET hidden_at = COALESCE(hidden_at, $2) "
                               "WHERE id = $1 AND deleted_at IS NULL"
                             : "UPDATE projects SET hidden_at = NULL "
                               "WHERE id = $1 AND deleted_at IS NULL AND $2 = $2",
                      DB_PARAMS(DBT(id), DBI(clock_now_us())), &changed, ei);
    if (err == SOUK_INVALID)
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    if (err)
        return err;
    return changed ? SOUK_OK : souk_fail(ei, SOUK_NOT_FOUND, "no such project");
}
