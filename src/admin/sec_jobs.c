/* sec_jobs.c - /admin/jobs/: background jobs, dead ones first (ADMIN).
 *
 * API.md § "Admin console" (jobs: retry dead, discard). Actions call
 * jobs_retry and jobs_discard, the functions behind POST
 * /api/admin/jobs/{id}/retry/ and `souk jobs discard`. Keyset pages over
 * jobs_state_created_idx (0017).
 */
#include <string.h>

#include "admin/admin.h"
#include "jobs/jobs.h"

#define COLS "id, kind, state, attempt, max_attempts, last_error, payload, run_at, " \
             "created_at, finished_at"

static void fix(json_t *row)
{
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "run_at");
    admin_fmt_time(row, "finished_at");
}

static int jobs_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *state = admin_arg(ax, "state");
    static const char *const states[] = {"dead", "pending", "running", "done", NULL};

    if (!*state)
        state = "dead";
    json_object_set_new(ax->page, "states", admin_options(states, state));
    json_object_set_new(ax->page, "kind", json_string(admin_arg(ax, "kind")));
    return admin_list_sql(ax,
                          "SELECT " COLS ", created_at AS _k FROM jobs WHERE state = $1 AND "
                          "($2 = '' OR kind = $2)",
                          "created_at", "id", DB_PARAMS(DBT(state), DBT(admin_arg(ax, "kind"))),
                          fix, ei);
}

static int jobs_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " FROM jobs WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    const char *st = json_string_value(json_object_get(row, "state"));
    json_object_set_new(row, "can_retry", json_boolean(!strcmp(st, "dead") || !strcmp(st, "pending")));
    json_object_set_new(ax->page, "job", row);
    return SOUK_OK;
}

static int retry(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);

    return jobs_retry(admin_db(ax), &who, ax->id, ei);
}

static int discard(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);

    return jobs_discard(admin_db(ax), &who, ax->id, ei);
}

static const struct admin_action actions[] = {
    {"retry", ADMIN_R_ADMIN, retry, "Job queued again.", 0},
    {"discard", ADMIN_R_ADMIN, discard, "Job discarded.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_jobs = {
    .slug = "jobs", .title = "Jobs", .roles = ADMIN_R_ADMIN,
    .list = jobs_list_page, .detail = jobs_detail, .actions = actions,
};
