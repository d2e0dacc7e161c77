/* jobs_http.c - the job queue's admin endpoints (ADMIN only).
 *
 *   GET  /api/admin/jobs/             counts by kind and state, and a page of
 *                                     jobs (dead ones by default; ?state=,
 *                                     ?kind= filter), newest first
 *   GET  /api/admin/jobs/{id}/        one job
 *   POST /api/admin/jobs/{id}/retry/  a dead (or waiting-to-retry) job runs now
 *   POST /api/admin/jobs/enqueue/     test mode only (SOUK_TEST_JOBS=1): queue a
 *                                     test.* job {kind, payload, delay_ms,
 *                                     unique_key, max_attempts}
 *
 * Thread safety: handlers keep all state in the request.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/policy.h"
#include "core/json.h"
#include "core/uuid.h"
#include "http/http.h"
#include "jobs/internal.h"
#include "jobs/jobs.h"

/* ---- GET /api/admin/jobs/ ------------------------------------------------- */

struct list_q {
    struct jobs_page_q page;
    json_t *counts, *rows;
};

static int list_parse(struct http_req *req, struct page *pg, struct list_q *q,
                      struct souk_errinfo *ei)
{
    static const char *const states[] = {"pending", "running", "done", "dead", NULL};
    int err;

    if ((err = page_parse(req, pg, ei)))
        return err;
    q->page.state = http_query(req, "state") ? http_query(req, "state") : "dead";
    q->page.kind = http_query(req, "kind");
    int ok = 0;
    for (int i = 0; states[i]; i++)
        ok |= !strcmp(states[i], q->page.state);
    if (!ok) {
        souk_errinfo_field(ei, "state", "Expected pending, running, done or dead.");
        return souk_fail(ei, SOUK_INVALID, "bad state filter");
    }
    if (pg->cursor) {
        q->page.after = json_string_value(json_object_get(pg->cursor, "id"));
        if (!q->page.after || !uuid_valid(q->page.after)) {
            souk_errinfo_field(ei, "cursor", "Invalid cursor.");
            return souk_fail(ei, SOUK_INVALID, "bad cursor");
        }
    }
    q->page.backwards = pg->backwards;
    q->page.limit = pg->size + 1;
    return 0;
}

/* Builds the page from q->rows (size + 1 fetched), per pagination.c. */
static json_t *list_page(struct http_req *req, const struct page *pg, const struct list_q *q)
{
    int n = (int)json_array_size(q->rows), more = n > pg->size, shown = more ? pg->size : n;
    json_t *results = json_array(), *next = NULL, *prev = NULL, *env;

    for (int k = 0; k < shown; k++) {
        int i = q->page.backwards ? shown - 1 - k : k;
        json_array_append(results, json_array_get(q->rows, (size_t)i));
    }
    const char *first =
        shown ? json_string_value(json_object_get(json_array_get(results, 0), "id")) : NULL;
    const char *last =
        shown ? json_string_value(json_object_get(json_array_get(results, (size_t)shown - 1), "id"))
              : NULL;
    if (last && (q->page.backwards || more))
        next = json_pack("{s:s, s:s}", "id", last, "d", "n");
    if (first && (q->page.backwards ? more : pg->cursor != NULL))
        prev = json_pack("{s:s, s:s}", "id", first, "d", "p");
    char *nc = next ? page_cursor_encode(req, next) : NULL;
    char *pc = prev ? page_cursor_encode(req, prev) : NULL;
    json_decref(next);
    json_decref(prev);
    env = page_envelope(req, results, nc, pc);
    json_object_set(env, "counts", q->counts);
    return env;
}

static int jobs_list_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct list_q q = {0};
    struct page pg;
    json_t *out;
    int err;

    if ((err = policy_admin(req, &ei)) || (err = list_parse(req, &pg, &q, &ei)))
        return http_problem(req, err, &ei);
    if ((err = jobs_admin_list(req->db, &q.page, &q.counts, &q.rows, &ei)))
        return http_problem(req, err, &ei);
    out = list_page(req, &pg, &q);
    json_decref(q.counts);
    json_decref(q.rows);
    return http_json(req, 200, out);
}

/* ---- one job ---------------------------------------------------------------- */

static int job_respond(struct http_req *req, const char *id, int status)
{
    struct souk_errinfo ei = {0};
    json_t *j = NULL;
    int err = jobs_admin_get(req->db, id, &j, &ei);

    return err ? http_problem(req, err, &ei) : http_json(req, status, j);
}

static int job_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err = policy_admin(req, &ei);

    if (err)
        return http_problem(req, err, &ei);
    return job_respond(req, http_param(req, 0), 200);
}

static int job_retry_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor who = {req->user ? req->user->id : NULL,
                              req->user ? auth_role_name(req->user->role) : NULL};
    int err = policy_admin(req, &ei);

    if (!err)
        err = jobs_retry(req->db, &who, http_param(req, 0), &ei);
    if (err)
        return http_problem(req, err, &ei);
    return job_respond(req, http_param(req, 0), 200);
}

/* ---- test mode: POST /api/admin/jobs/enqueue/ -------------------------------- */

struct enqueue_in {
    const char *kind, *unique_key;
    const json_t *payload;
    int64_t delay_ms, max_attempts;
    char id[37];
};

static int enqueue_parse(struct http_req *req, struct enqueue_in *in, struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    in->kind = jv_str(&v, "kind", JV_REQUIRED, 6, 64, NULL);
    in->unique_key = jv_str(&v, "unique_key", JV_OPTIONAL | JV_NULLABLE, 1, 200, NULL);
    in->delay_ms = jv_int(&v, "delay_ms", JV_OPTIONAL, 0, 86400000, 0);
    in->max_attempts = jv_int(&v, "max_attempts", JV_OPTIONAL, 0, 100, 0);
    in->payload = json_object_get(body, "payload");
    if (in->kind && strncmp(in->kind, "test.", 5) != 0)
        jv_error(&v, "kind", "Only test.* kinds can be enqueued here.");
    if (in->payload && !json_is_object(in->payload))
        jv_error(&v, "payload", "Expected an object.");
    return jv_done(&v);
}

static int enqueue_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct enqueue_in in = {0};
    int err = policy_admin(req, &ei);

    if (!err)
        err = enqueue_parse(req, &in, &ei);
    if (!err)
        err = jobs_admin_enqueue(req->db, in.kind, in.payload, in.delay_ms, in.unique_key,
                                 in.max_attempts, in.id, &ei);
    if (err)
        return http_problem(req, err, &ei);
    return job_respond(req, in.id, 201);
}

void jobs_http_register(struct router *r)
{
    http_route(r, "GET", "/api/admin/jobs/", jobs_list_get, 0,
               "Job counts by kind and state, and jobs (dead by default)");
    http_route(r, "GET", "/api/admin/jobs/{id}/", job_get, 0, "One background job");
    http_route(r, "POST", "/api/admin/jobs/{id}/retry/", job_retry_post, 0,
               "Run a dead or failed job again now");
    if (jobs_test_mode())
        http_route(r, "POST", "/api/admin/jobs/enqueue/", enqueue_post, 0,
                   "Test mode only: enqueue a test.* job");
}
