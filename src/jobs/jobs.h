/* jobs.h - durable background jobs kept in souk's own database.
 *
 * A job is a row inserted in the same transaction as the change that needs
 * it (job_enqueue takes the transaction's connection): it cannot be lost,
 * and it never runs for a change that rolled back. Worker threads (inside
 * `souk serve`, or `souk worker` on other machines) claim due jobs — with
 * FOR UPDATE SKIP LOCKED on PostgreSQL — under a lease they renew; a job
 * whose worker died is claimed again when its lease expires, so handlers
 * must be safe to run twice. Failures retry with exponential backoff and
 * jitter up to the kind's limit, then the job is kept as `dead`.
 *
 * States: pending -> running -> done | (pending again, for a retry) | dead.
 */
#ifndef SOUK_JOBS_H
#define SOUK_JOBS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct router;

struct job {
    char id[37];
    const char *kind;
    const json_t *payload; /* borrowed, valid during the handler */
    int attempt;           /* 1 on the first run */
    int max_attempts;
    int64_t run_at;        /* microseconds */
};

/* A handler returns 0 on success; any other souk error is a failure (the
 * detail is kept as last_error). SOUK_PRECONDITION means "permanent": the
 * job goes dead at once without further retries. Handlers run outside any
 * transaction and may open their own with db_tx_run. */
typedef int (*job_handler)(struct db *db, const struct job *job, struct souk_errinfo *ei);

/* Registers a kind (call before jobs_start; not thread-safe). */
void job_register(const char *kind, job_handler fn, int max_attempts);
/* The same for a kind whose handler may wait on the payment provider: a
 * worker runs it in a fiber of its own (core/fiber.h), which parks for each
 * provider call, so that a slow or hanging provider never holds a worker
 * thread and other jobs go on meanwhile. Its handler follows the fiber
 * rules: no transaction, mutex or pooled connection held across a call. */
void job_register_provider(const char *kind, job_handler fn, int max_attempts);

/* Inside a transaction: adds a job. run_at 0 = now. With a unique_key, at
 * most one pending/running job per key exists: enqueueing again is a no-op
 * (returns 0; out_id, if given, receives the existing job's id). */
int job_enqueue(struct db_conn *tx, const char *kind, const json_t *payload, int64_t run_at,
                const char *unique_key, char out_id[37], struct souk_errinfo *ei);

/* Recurring sweeps registered in code: fn runs once per interval across
 * all nodes (a row per sweep name holds the next due time; a node claims
 * it with a conditional update). */
void job_recurring(const char *name, int interval_seconds, job_handler fn);

/* Starts n worker threads (0 allowed: enqueue-only node). */
int jobs_start(struct db *db, int nworkers, struct souk_errinfo *ei);
/* Stops taking new jobs; lets running ones finish up to timeout_s, then
 * releases the rest (their leases are cleared so another node takes them). */
void jobs_stop(int timeout_s);

/* ---- additions (jobs.c) ---------------------------------------------
 * This process's node id ("host/pid/random"): written to jobs.locked_by. */
const char *jobs_node_id(void);
/* Wakes idle workers at once (job_enqueue does it after commit). */
void jobs_wake(void);
/* Claims at most one due job and runs it in the calling thread, with
 * the same bookkeeping as a worker (tests, and the CLI). *ran = 1 when a
 * job was run. Needs no jobs_start, only registered kinds. */
int jobs_run_one(struct db *db, int *ran, struct souk_errinfo *ei);
/* A dead job, or a pending one waiting for its retry, becomes pending
 * now. SOUK_NOT_FOUND when no such job, SOUK_PRECONDITION when it is
 * running or done, SOUK_CONFLICT when a live job holds its unique key. */
/* Erasure: jobs whose payload contains needle forget it (see jobs.c). */
int jobs_forget_tx(struct db_conn *c, const char *needle, struct souk_errinfo *ei);
struct audit_actor; /* audit/audit.h: who asked (NULL: the operator's command line) */
int jobs_retry(struct db *db, const struct audit_actor *actor, const char *id,
               struct souk_errinfo *ei);
/* A pending or dead job becomes dead with last_error "discarded". */
int jobs_discard(struct db *db, const struct audit_actor *actor, const char *id,
                 struct souk_errinfo *ei);
/* 1 when SOUK_TEST_JOBS=1: the test job kinds (src/testjobs.c, registered
 * by the application above this module) and their enqueue route exist. */
int jobs_test_mode(void);

/* Admin and CLI */
void jobs_http_register(struct router *r); /* GET /api/admin/jobs/, POST /api/admin/jobs/{id}/retry/ */
int jobs_cli(struct db *db, int argc, char **argv); /* `souk jobs list|retry ID|discard ID|stats` */

#endif
