/* jobs_admin.c - the SQL behind the job queue's admin endpoints (see
 * jobs/internal.h): listing, reading one job, and test-mode enqueueing.
 *
 * Thread safety: stateless; every call uses its own connection or
 * transaction from the pool.
 */
#include <stdint.h>

#include "core/clock.h"
#include "core/json.h"
#include "db/db.h"
#include "jobs/internal.h"
#include "jobs/jobs.h"

/* A row of JOBS_COLS as the API's job object. */
static json_t *job_json(const struct db_res *r, int i)
{
    json_t *payload = json_loads(db_get(r, i, 11) ? db_get(r, i, 11) : "{}", 0, NULL);

    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     db_get(r, i, 0), "kind", db_get(r, i, 1), "state", db_get(r, i, 2), "attempt",
                     (int)db_int(r, i, 3), "max_attempts", (int)db_int(r, i, 4), "run_at",
                     json_time(db_int(r, i, 5)), "created_at", json_time(db_int(r, i, 6)),
                     "started_at", json_time_or_null(db_int(r, i, 7), db_isnull(r, i, 7)),
                     "finished_at", json_time_or_null(db_int(r, i, 8), db_isnull(r, i, 8)),
                     "last_error", json_str_or_null(db_get(r, i, 9)), "unique_key",
                     json_str_or_null(db_get(r, i, 10)), "payload", payload ? payload : json_null(),
                     "locked_by", json_str_or_null(db_get(r, i, 12)));
}

/* ---- list --------------------------------------------------------------------- */

struct list_arg {
    const struct jobs_page_q *q;
    struct db_res *counts, *rows;
};

static int list_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_arg *a = arg;
    const struct jobs_page_q *q = a->q;
    const char *sql;
    int err;

    err = db_query(c,
                   "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state "
                   "ORDER BY kind, state",
                   DB_NOPARAMS, &a->counts, ei);
    if (err)
        return err;
    /* COALESCE($2, kind) = kind: no kind filter when $2 is NULL */
    if (!q->after)
        return db_query(c,
                        "SELECT " JOBS_COLS " FROM jobs WHERE state = $1 AND "
                        "COALESCE($2, kind) = kind ORDER BY id DESC LIMIT $3",
                        DB_PARAMS(DBT(q->state), DBT(q->kind), DBI(q->limit)), &a->rows, ei);
    sql = q->backwards ? "SELECT " JOBS_COLS " FROM jobs WHERE state = $1 AND COALESCE($2, kind) "
                         "= kind AND id > $4 ORDER BY id ASC LIMIT $3"
                       : "SELECT " JOBS_COLS " FROM jobs WHERE state = $1 AND COALESCE($2, kind) "
                         "= kind AND id < $4 ORDER BY id DESC LIMIT $3";
    return db_query(c, sql, DB_PARAMS(DBT(q->state), DBT(q->kind), DBI(q->limit), DBT(q->after)),
                    &a->rows, ei);
}

int jobs_admin_list(struct db *db, const struct jobs_page_q *q, json_t **counts, json_t **rows,
                    struct souk_errinfo *ei)
{
    struct list_arg a = {q, NULL, NULL};
    int err = db_run(db, list_tx, &a, ei);

    *counts = *rows = NULL;
    if (!err) {
        *counts = json_array();
        *rows = json_array();
        for (int i = 0; i < db_nrows(a.counts); i++)
            json_array_append_new(*counts, json_pack("{s:s, s:s, s:I}", "kind",
                                                     db_get(a.counts, i, 0), "state",
                                                     db_get(a.counts, i, 1), "count",
                                                     (json_int_t)db_int(a.counts, i, 2)));
        for (int i = 0; i < db_nrows(a.rows); i++)
            json_array_append_new(*rows, job_json(a.rows, i));
    }
    db_res_free(a.counts);
    db_res_free(a.rows);
    return err;
}

/* ---- one job ------------------------------------------------------------------ */

struct get_arg {
    const char *id;
    struct db_res *out;
};

static int get_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_arg *a = arg;

    return db_query(c, "SELECT " JOBS_COLS " FROM jobs WHERE id = $1", DB_PARAMS(DBT(a->id)),
                    &a->out, ei);
}

int jobs_admin_get(struct db *db, const char *id, json_t **out, struct souk_errinfo *ei)
{
    struct get_arg a = {id, NULL};
    int err = db_run(db, get_tx, &a, ei);

    *out = NULL;
    if (!err && db_nrows(a.out) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "%s", "no such job");
    if (!err)
        *out = job_json(a.out, 0);
    db_res_free(a.out);
    return err;
}

/* ---- test-mode enqueue ---------------------------------------------------------- */

struct enqueue_arg {
    const char *kind, *unique_key;
    const json_t *payload;
    int64_t delay_ms, max_attempts;
    char *id;
};

static int enqueue_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct enqueue_arg *a = arg;
    int64_t run_at = a->delay_ms ? clock_now_us() + a->delay_ms * 1000 : 0;
    int err = job_enqueue(c, a->kind, a->payload, run_at, a->unique_key, a->id, ei);

    if (!err && a->max_attempts > 0)
        err = db_exec(c, "UPDATE jobs SET max_attempts = $2 WHERE id = $1 AND attempt = 0",
                      DB_PARAMS(DBT(a->id), DBI(a->max_attempts)), NULL, ei);
    return err;
}

int jobs_admin_enqueue(struct db *db, const char *kind, const json_t *payload, int64_t delay_ms,
                       const char *unique_key, int64_t max_attempts, char out_id[37],
                       struct souk_errinfo *ei)
{
    struct enqueue_arg a = {kind, unique_key, payload, delay_ms, max_attempts, out_id};

    return db_tx_run(db, enqueue_tx, &a, ei);
}
