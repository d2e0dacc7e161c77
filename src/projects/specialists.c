/* specialists.c - the interface of src/projects/specialists.h: whether a
 * vendor profile is a specialist, project ownership, the daily statistics
 * rows and the denormalised totals that other domains push (API.md § Home
 * services). Every function runs one or two statements inside the caller's
 * transaction; nothing here is shared between threads.
 */
#include "projects/specialists.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "db/db.h"

#define US_PER_DAY 86400000000LL

static int64_t stat_day(int64_t at_us)
{
    return at_us >= 0 ? at_us / US_PER_DAY : -((-at_us + US_PER_DAY - 1) / US_PER_DAY);
}

int specialist_check(struct db_conn *c, const char *vendor_id, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    if (!vendor_id || !uuid_valid(vendor_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such specialist");
    int err = db_query(c,
                       "SELECT 1 FROM vendor_profiles WHERE id = $1 AND is_specialist = $2 "
                       "AND erased_at IS NULL",
                       DB_PARAMS(DBT(vendor_id), DBB(1)), &r, ei);
    if (err)
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_NOT_FOUND, "no such specialist") : err;
    int n = db_nrows(r);
    db_res_free(r);
    return n ? SOUK_OK : souk_fail(ei, SOUK_NOT_FOUND, "no such specialist");
}

int specialist_of_user(struct db_conn *c, const char *user_id, char vendor_id[37],
                       struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    if (!user_id || !uuid_valid(user_id))
        return souk_fail(ei, SOUK_FORBIDDEN, "only a specialist may do this");
    int err = db_query(c,
                       "SELECT id FROM vendor_profiles WHERE user_id = $1 AND is_specialist = $2",
                       DB_PARAMS(DBT(user_id), DBB(1)), &r, ei);
    if (err)
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_FORBIDDEN, "not a specialist") : err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_FORBIDDEN, "only a specialist may do this");
    }
    snprintf(vendor_id, 37, "%s", db_get(r, 0, 0));
    db_res_free(r);
    return SOUK_OK;
}

int project_owner(struct db_conn *c, const char *project_id, char vendor_id[37],
                  struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    if (!project_id || !uuid_valid(project_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    int err = db_query(c, "SELECT vendor_id FROM projects WHERE id = $1 AND deleted_at IS NULL",
                       DB_PARAMS(DBT(project_id)), &r, ei);
    if (err)
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_NOT_FOUND, "no such project") : err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    }
    snprintf(vendor_id, 37, "%s", db_get(r, 0, 0));
    db_res_free(r);
    return SOUK_OK;
}

static int stat_bump(struct db_conn *c, const char *target, int64_t day, enum specialist_stat kind,
                     struct souk_errinfo *ei)
{
    static const char *const sql[] = {
        [SPECIALIST_STAT_VIEW] =
            "INSERT INTO stats_daily (target_id, day, views) VALUES ($1, $2, 1) "
            "ON CONFLICT (target_id, day) DO UPDATE SET views = stats_daily.views + 1",
        [SPECIALIST_STAT_FAVORITE] =
            "INSERT INTO stats_daily (target_id, day, favorites) VALUES ($1, $2, 1) "
            "ON CONFLICT (target_id, day) DO UPDATE SET favorites = stats_daily.favorites + 1",
        [SPECIALIST_STAT_REQUEST] =
            "INSERT INTO stats_daily (target_id, day, requests) VALUES ($1, $2, 1) "
            "ON CONFLICT (target_id, day) DO UPDATE SET requests = stats_daily.requests + 1",
    };
    if (kind < SPECIALIST_STAT_VIEW || kind > SPECIALIST_STAT_REQUEST)
        return souk_fail(ei, SOUK_INVALID, "unknown statistic %d", (int)kind);
    return db_exec(c, sql[kind], DB_PARAMS(DBT(target), DBI(day)), NULL, ei);
}

int specialist_stat_add(struct db_conn *c, const char *vendor_id, const char *project_id,
                        enum specialist_stat kind, int64_t at_us, struct souk_errinfo *ei)
{
    int64_t day = stat_day(at_us);
    if (!vendor_id || !uuid_valid(vendor_id) || (project_id && !uuid_valid(project_id)))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such specialist or project");
    int err = stat_bump(c, vendor_id, day, kind, ei);
    if (!err && project_id)
        err = stat_bump(c, project_id, day, kind, ei);
    return err;
}

static int profile_set(struct db_conn *c, const char *sql, const char *vendor_id, int64_t a,
                       int64_t b, struct souk_errinfo *ei)
{
    int64_t changed = 0;
    if (!vendor_id || !uuid_valid(vendor_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such vendor profile");
    int err = db_exec(c, sql, DB_PARAMS(DBT(vendor_id), DBI(a), DBI(b)), &changed, ei);
    if (err == SOUK_INVALID) /* an id that is not a UUID (PostgreSQL) */
        return souk_fail(ei, SOUK_NOT_FOUND, "no such vendor profile");
    if (err)
        return err;
    return changed ? SOUK_OK : souk_fail(ei, SOUK_NOT_FOUND, "no such vendor profile");
}

int specialist_set_review_totals(struct db_conn *c, const char *vendor_id, int64_t rating_sum,
                                 int64_t review_count, struct souk_errinfo *ei)
{
    if (rating_sum < 0 || review_count < 0)
        return souk_fail(ei, SOUK_INVALID, "negative review totals");
    return profile_set(c,
                       "UPDATE vendor_profiles SET rating_sum = $2, review_count = $3 "
                       "WHERE id = $1",
                       vendor_id, rating_sum, review_count, ei);
}

int specialist_set_completed_requests(struct db_conn *c, const char *vendor_id,
                                      int64_t completed, struct souk_errinfo *ei)
{
    if (completed < 0)
        return souk_fail(ei, SOUK_INVALID, "negative completed requests");
    return profile_set(c,
                       "UPDATE vendor_profiles SET completed_requests = $2 "
                       "WHERE id = $1 AND $3 = 0",
                       vendor_id, completed, 0, ei);
}

int specialist_set_pro_until(struct db_conn *c, const char *vendor_id, int64_t until_us,
                             struct souk_errinfo *ei)
{
    return profile_set(c, "UPDATE vendor_profiles SET pro_until = $2 WHERE id = $1 AND $3 = 0",
                       vendor_id, until_us < 0 ? 0 : until_us, 0, ei);
}

int project_set_coverage(struct db_conn *c, const char *project_id, const char *product,
                         int64_t until_us, struct souk_errinfo *ei)
{
    const char *sql;
    int64_t changed = 0;
    if (product && strcmp(product, "TOP") == 0)
        sql = "UPDATE projects SET top_until = $2 WHERE id = $1";
    else if (product && strcmp(product, "DETAILED") == 0)
        sql = "UPDATE projects SET detailed_until = $2 WHERE id = $1";
    else
        return souk_fail(ei, SOUK_INVALID, "coverage product must be TOP or DETAILED");
    if (!project_id || !uuid_valid(project_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    int err = db_exec(c, sql, DB_PARAMS(DBT(project_id), DBI(until_us < 0 ? 0 : until_us)),
                      &changed, ei);
    if (err == SOUK_INVALID)
        return souk_fail(ei, SOUK_NOT_FOUND, "no such project");
    if (err)
        return err;
    return changed ? SOUK_OK : souk_fail(ei, SOUK_NOT_FOUND, "no such project");
}

int specialist_slugs_valid(const json_t *arr)
{
    size_t i;
    json_t *v;
    if (!json_is_array(arr))
        return 0;
    json_array_foreach(arr, i, v) {
        const char *t = json_string_value(v);
        size_t n = t ? strlen(t) : 0;
        if (n < 1 || n > SPECIALIST_SLUG_MAX || strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
            return 0;
    }
    return 1;
}

int specialist_set_categories(struct db_conn *c, const char *vendor_id, const json_t *arr,
                              struct souk_errinfo *ei)
{
    size_t i;
    json_t *v;
    char *txt = json_dumps(arr, JSON_COMPACT);
    int err = db_exec(c,
                      "UPDATE vendor_profiles SET categories = $2, is_specialist = $3 "
                      "WHERE id = $1",
                      DB_PARAMS(DBT(vendor_id), DBT(txt ? txt : "[]"),
                                DBB(json_array_size(arr) > 0)),
                      NULL, ei);
    free(txt);
    if (!err)
        err = db_exec(c, "DELETE FROM vendor_categories WHERE vendor_id = $1",
                      DB_PARAMS(DBT(vendor_id)), NULL, ei);
    json_array_foreach(arr, i, v) {
        if (err)
            break;
        err = db_exec(c,
                      "INSERT INTO vendor_categories (vendor_id, slug) VALUES ($1, $2) "
                      "ON CONFLICT DO NOTHING",
                      DB_PARAMS(DBT(vendor_id), DBT(json_string_value(v))), NULL, ei);
    }
    return err;
}
