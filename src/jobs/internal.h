/* internal.h - the jobs table's admin queries, shared by jobs_admin.c and
 * jobs_http.c (not for other modules).
 *
 * Result sets hold the columns of JOBS_COLS in that order:
 *   0 id, 1 kind, 2 state, 3 attempt, 4 max_attempts, 5 run_at,
 *   6 created_at, 7 started_at, 8 finished_at, 9 last_error, 10 unique_key,
 *   11 payload, 12 locked_by
 * The caller frees every returned result with db_res_free (also on error).
 *
 * Thread safety: stateless; safe from any thread.
 */
#ifndef SOUK_JOBS_INTERNAL_H
#define SOUK_JOBS_INTERNAL_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_res;

#define JOBS_COLS                                                                                  \
    "id, kind, state, attempt, max_attempts, run_at, created_at, started_at, "                     \
    "finished_at, last_error, unique_key, payload, locked_by"

/* One page of jobs in `state` (and `kind`, when not NULL). Without `after`
 * the newest `limit` ones; with it, the ones older than `after` (newest
 * first) or, when backwards, newer than it (oldest first). */
struct jobs_page_q {
    const char *state, *kind, *after;
    int backwards, limit;
};

/* Counts by kind and state ([{kind, state, count}], ordered by kind, state)
 * and the page of jobs q asks for as the API's job objects, in the order
 * read (oldest first when backwards), read in one go. New references. */
int jobs_admin_list(struct db *db, const struct jobs_page_q *q, json_t **counts, json_t **rows,
                    struct souk_errinfo *ei);
/* The job `id` as the API's job object; SOUK_NOT_FOUND when there is none. */
int jobs_admin_get(struct db *db, const char *id, json_t **out, struct souk_errinfo *ei);
/* Test mode: enqueues `kind` delay_ms from now (0: now); max_attempts > 0
 * overrides the kind's limit. out_id receives the job's id. */
int jobs_admin_enqueue(struct db *db, const char *kind, const json_t *payload, int64_t delay_ms,
                       const char *unique_key, int64_t max_attempts, char out_id[37],
                       struct souk_errinfo *ei);

#endif
