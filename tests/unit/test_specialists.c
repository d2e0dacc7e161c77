/* test_specialists.c - the showcase interface other domains call
 * (src/projects/specialists.h) on SQLite and, when SOUK_TEST_PG_URL is set,
 * on PostgreSQL in a throwaway schema: specialist checks, project ownership,
 * the daily statistics rows and the denormalised totals.
 */
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "core/uuid.h"
#include "db/db.h"
#include "projects/projects.h"
#include "projects/specialists.h"

struct fx {
    struct db *db;
    struct db_conn *c;
    int pg;
    char schema[64];
    char vendor_user[37], vendor[37], plain_user[37], plain[37], project[37];
};

static void exec(struct db_conn *c, const char *sql, const struct db_param *p, int np)
{
    struct souk_errinfo ei = {0};
    if (db_exec(c, sql, p, np, NULL, &ei))
        fail_msg("%s: %s", sql, ei.detail);
}

static int64_t one(struct db_conn *c, const char *sql, const struct db_param *p, int np)
{
    struct souk_errinfo ei = {0};
    struct db_res *r = NULL;
    if (db_query(c, sql, p, np, &r, &ei))
        fail_msg("%s: %s", sql, ei.detail);
    assert_int_equal(db_nrows(r), 1);
    int64_t v = db_int(r, 0, 0);
    db_res_free(r);
    return v;
}

static void user(struct db_conn *c, char id[37])
{
    char email[80];
    uuid_v7(id);
    snprintf(email, sizeof email, "%s@example.com", id);
    exec(c,
         "INSERT INTO users (id, email, password_hash, role, joined_at, updated_at) "
         "VALUES ($1, $2, 'x', 'VENDOR', 0, 0)",
         DB_PARAMS(DBT(id), DBT(email)));
}

static void profile(struct db_conn *c, const char *uid, char id[37], int specialist)
{
    uuid_v7(id);
    exec(c,
         "INSERT INTO vendor_profiles (id, user_id, business_name, categories, is_specialist, "
         "created_at, updated_at) VALUES ($1, $2, 'B', $3, $4, 0, 0)",
         DB_PARAMS(DBT(id), DBT(uid), DBT(specialist ? "[\"kitchens\"]" : "[]"),
                   DBB(specialist)));
}

static void pg_admin(const char *fmt, const char *schema)
{
    struct souk_errinfo ei = {0};
    struct db *db = NULL;
    char sql[256];
    snprintf(sql, sizeof sql, fmt, schema);
    assert_int_equal(db_open(unit_pg_url(), 1, &db, &ei), 0);
    struct db_conn *c = db_acquire(db, -1);
    assert_int_equal(db_exec_script(c, sql, &ei), 0);
    db_release(c);
    db_close(db);
}

static int setup_on(void **state, int pg)
{
    static int seq;
    struct fx *f = calloc(1, sizeof *f);
    struct souk_errinfo ei = {0};
    char url[512];
    int applied = 0;

    f->pg = pg;
    if (pg) {
        snprintf(f->schema, sizeof f->schema, "t_spec_%d_%d", (int)getpid(), ++seq);
        pg_admin("CREATE SCHEMA %s", f->schema);
        snprintf(url, sizeof url, "%s%coptions=-c%%20search_path%%3D%s", unit_pg_url(),
                 strchr(unit_pg_url(), '?') ? '&' : '?', f->schema);
    } else {
        snprintf(url, sizeof url, "sqlite://:memory:");
    }
    assert_int_equal(db_open(url, 1, &f->db, &ei), 0);
    if (db_migrate(f->db, &applied, NULL, &ei))
        fail_msg("migrate: %s", ei.detail);
    f->c = db_acquire(f->db, -1);
    user(f->c, f->vendor_user);
    user(f->c, f->plain_user);
    profile(f->c, f->vendor_user, f->vendor, 1);
    profile(f->c, f->plain_user, f->plain, 0);
    uuid_v7(f->project);
    exec(f->c,
         "INSERT INTO projects (id, vendor_id, title, created_at, updated_at) "
         "VALUES ($1, $2, 'Loft', 0, 0)",
         DB_PARAMS(DBT(f->project), DBT(f->vendor)));
    *state = f;
    return 0;
}

static int setup_sqlite(void **state) { return setup_on(state, 0); }
static int setup_pg(void **state) { return setup_on(state, 1); }

static int teardown(void **state)
{
    struct fx *f = *state;
    db_release(f->c);
    db_close(f->db);
    if (f->pg)
        pg_admin("DROP SCHEMA %s CASCADE", f->schema);
    free(f);
    return 0;
}

static void t_check(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    char vid[37] = "";
    char missing[37];
    uuid_v7(missing);

    assert_int_equal(specialist_check(f->c, f->vendor, &ei), SOUK_OK);
    assert_int_equal(specialist_check(f->c, f->plain, &ei), SOUK_NOT_FOUND);
    assert_int_equal(specialist_check(f->c, missing, &ei), SOUK_NOT_FOUND);
    assert_int_equal(specialist_check(f->c, "not-a-uuid", &ei), SOUK_NOT_FOUND);
    assert_int_equal(specialist_of_user(f->c, f->vendor_user, vid, &ei), SOUK_OK);
    assert_string_equal(vid, f->vendor);
    assert_int_equal(specialist_of_user(f->c, f->plain_user, vid, &ei), SOUK_FORBIDDEN);
    assert_int_equal(specialist_of_user(f->c, missing, vid, &ei), SOUK_FORBIDDEN);
    souk_errinfo_cleanup(&ei);
}

static void t_owner(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    char vid[37] = "";

    assert_int_equal(project_owner(f->c, f->project, vid, &ei), SOUK_OK);
    assert_string_equal(vid, f->vendor);
    /* hidden: still found */
    assert_int_equal(projects_set_hidden(f->c, f->project, 1, &ei), SOUK_OK);
    assert_int_equal(project_owner(f->c, f->project, vid, &ei), SOUK_OK);
    assert_int_equal(one(f->c, "SELECT COUNT(*) FROM projects WHERE hidden_at IS NOT NULL",
                         DB_NOPARAMS), 1);
    assert_int_equal(projects_set_hidden(f->c, f->project, 0, &ei), SOUK_OK);
    assert_int_equal(one(f->c, "SELECT COUNT(*) FROM projects WHERE hidden_at IS NOT NULL",
                         DB_NOPARAMS), 0);
    exec(f->c, "UPDATE projects SET deleted_at = 1 WHERE id = $1", DB_PARAMS(DBT(f->project)));
    assert_int_equal(project_owner(f->c, f->project, vid, &ei), SOUK_NOT_FOUND);
    assert_int_equal(projects_set_hidden(f->c, f->project, 1, &ei), SOUK_NOT_FOUND);
    assert_int_equal(project_owner(f->c, "nope", vid, &ei), SOUK_NOT_FOUND);
    souk_errinfo_cleanup(&ei);
}

static void t_stats(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    const int64_t day = 86400000000LL;
    const int64_t t0 = 20000 * day + 5;

    assert_int_equal(specialist_stat_add(f->c, f->vendor, f->project, SPECIALIST_STAT_VIEW, t0,
                                         &ei), 0);
    assert_int_equal(specialist_stat_add(f->c, f->vendor, NULL, SPECIALIST_STAT_VIEW, t0 + 10,
                                         &ei), 0);
    assert_int_equal(specialist_stat_add(f->c, f->vendor, NULL, SPECIALIST_STAT_REQUEST,
                                         t0 + day, &ei), 0);
    assert_int_equal(specialist_stat_add(f->c, f->vendor, f->project, SPECIALIST_STAT_FAVORITE,
                                         t0 + day, &ei), 0);
    assert_int_equal(one(f->c, "SELECT views FROM stats_daily WHERE target_id = $1 AND day = $2",
                         DB_PARAMS(DBT(f->vendor), DBI(20000))), 2);
    assert_int_equal(one(f->c, "SELECT views FROM stats_daily WHERE target_id = $1 AND day = $2",
                         DB_PARAMS(DBT(f->project), DBI(20000))), 1);
    assert_int_equal(one(f->c, "SELECT requests * 10 + favorites FROM stats_daily "
                               "WHERE target_id = $1 AND day = $2",
                         DB_PARAMS(DBT(f->vendor), DBI(20001))), 11);
    assert_int_equal(one(f->c, "SELECT requests * 10 + favorites FROM stats_daily "
                               "WHERE target_id = $1 AND day = $2",
                         DB_PARAMS(DBT(f->project), DBI(20001))), 1);
    assert_int_equal(one(f->c, "SELECT COUNT(*) FROM stats_daily", DB_NOPARAMS), 4);
    assert_int_equal(specialist_stat_add(f->c, f->vendor, NULL, (enum specialist_stat)9, t0, &ei),
                     SOUK_INVALID);
    souk_errinfo_cleanup(&ei);
}

static void t_totals(void **state)
{
    struct fx *f = *state;
    struct souk_errinfo ei = {0};
    char missing[37];
    uuid_v7(missing);

    assert_int_equal(specialist_set_review_totals(f->c, f->vendor, 9, 2, &ei), 0);
    assert_int_equal(specialist_set_completed_requests(f->c, f->vendor, 3, &ei), 0);
    assert_int_equal(specialist_set_pro_until(f->c, f->vendor, 777, &ei), 0);
    assert_int_equal(one(f->c, "SELECT rating_sum * 1000 + review_count * 100 + "
                               "completed_requests FROM vendor_profiles WHERE id = $1",
                         DB_PARAMS(DBT(f->vendor))), 9203);
    assert_int_equal(one(f->c, "SELECT pro_until FROM vendor_profiles WHERE id = $1",
                         DB_PARAMS(DBT(f->vendor))), 777);
    assert_int_equal(specialist_set_review_totals(f->c, missing, 1, 1, &ei), SOUK_NOT_FOUND);
    assert_int_equal(specialist_set_review_totals(f->c, f->vendor, -1, 1, &ei), SOUK_INVALID);
    assert_int_equal(specialist_set_pro_until(f->c, "x", 1, &ei), SOUK_NOT_FOUND);
    assert_int_equal(project_set_coverage(f->c, f->project, "TOP", 55, &ei), 0);
    assert_int_equal(project_set_coverage(f->c, f->project, "DETAILED", 66, &ei), 0);
    assert_int_equal(one(f->c, "SELECT top_until * 100 + detailed_until FROM projects "
                               "WHERE id = $1", DB_PARAMS(DBT(f->project))), 5566);
    assert_int_equal(project_set_coverage(f->c, f->project, "PRO", 1, &ei), SOUK_INVALID);
    assert_int_equal(project_set_coverage(f->c, missing, "TOP", 1, &ei), SOUK_NOT_FOUND);
    souk_errinfo_cleanup(&ei);
}

#define CASES(setup)                                                                        \
    {                                                                                       \
        cmocka_unit_test_setup_teardown(t_check, setup, teardown),                          \
            cmocka_unit_test_setup_teardown(t_owner, setup, teardown),                      \
            cmocka_unit_test_setup_teardown(t_stats, setup, teardown),                      \
            cmocka_unit_test_setup_teardown(t_totals, setup, teardown),                     \
    }

int main(void)
{
    const struct CMUnitTest sqlite[] = CASES(setup_sqlite);
    const struct CMUnitTest pg[] = CASES(setup_pg);
    int failed = cmocka_run_group_tests_name("specialists (sqlite)", sqlite, NULL, NULL);
    if (unit_pg_url())
        failed += cmocka_run_group_tests_name("specialists (pgsql)", pg, NULL, NULL);
    return failed ? 1 : 0;
}
