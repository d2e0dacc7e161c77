/* jobs_cli.c - `souk jobs ...`: look at and repair the queue from a shell.
 *
 *   souk jobs stats              counts by kind and state
 *   souk jobs list [STATE]       the 50 newest jobs in STATE (default dead)
 *   souk jobs retry ID           a dead or waiting job runs again now
 *   souk jobs discard ID         a pending or dead job is given up (dead)
 *
 * argv[0] is the subcommand. Exit status: 0 ok, 1 failure, 2 usage.
 * Thread safety: runs on the main thread of a one-shot process.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "db/db.h"
#include "jobs/jobs.h"

struct q {
    const char *state;
    struct db_res *r;
};

static int stats_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct q *q = arg;

    return db_query(c,
                    "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state "
                    "ORDER BY kind, state",
                    DB_NOPARAMS, &q->r, ei);
}

static int list_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct q *q = arg;

    return db_query(c,
                    "SELECT id, kind, attempt, max_attempts, run_at, last_error FROM jobs "
                    "WHERE state = $1 ORDER BY id DESC LIMIT 50",
                    DB_PARAMS(DBT(q->state)), &q->r, ei);
}

static void print_stats(const struct db_res *r)
{
    printf("%-32s %-8s %10s\n", "KIND", "STATE", "COUNT");
    for (int i = 0; i < db_nrows(r); i++)
        printf("%-32s %-8s %10lld\n", db_get(r, i, 0), db_get(r, i, 1), (long long)db_int(r, i, 2));
}

static void print_list(const struct db_res *r)
{
    char when[CLOCK_RFC3339_LEN];

    printf("%-36s %-24s %-7s %-27s %s\n", "ID", "KIND", "ATTEMPT", "RUN_AT", "LAST_ERROR");
    for (int i = 0; i < db_nrows(r); i++) {
        clock_format(db_int(r, i, 4), when);
        printf("%-36s %-24s %3lld/%-3lld %-27s %s\n", db_get(r, i, 0), db_get(r, i, 1),
               (long long)db_int(r, i, 2), (long long)db_int(r, i, 3), when,
               db_get(r, i, 5) ? db_get(r, i, 5) : "");
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: souk jobs stats | list [pending|running|done|dead] | retry ID | "
                    "discard ID\n");
    return 2;
}

static int query(struct db *db, db_tx_fn fn, struct q *q, void (*print)(const struct db_res *))
{
    struct souk_errinfo ei = {0};
    int err = db_run(db, fn, q, &ei);

    if (!err)
        print(q->r);
    else
        fprintf(stderr, "souk jobs: %s\n", ei.detail);
    db_res_free(q->r);
    souk_errinfo_cleanup(&ei);
    return err ? 1 : 0;
}

static int act(struct db *db, const char *what, const char *id)
{
    struct souk_errinfo ei = {0};
    int err = !strcmp(what, "retry") ? jobs_retry(db, NULL, id, &ei) : jobs_discard(db, NULL, id, &ei);

    if (err)
        fprintf(stderr, "souk jobs %s: %s: %s\n", what, souk_err_str(err),
                ei.detail[0] ? ei.detail : "failed");
    else
        printf("%s: %s\n", id, !strcmp(what, "retry") ? "pending (runs now)" : "discarded");
    souk_errinfo_cleanup(&ei);
    return err ? 1 : 0;
}

int jobs_cli(struct db *db, int argc, char **argv)
{
    struct q q = {0};

    if (argc < 1)
        return usage();
    if (!strcmp(argv[0], "stats") && argc == 1)
        return query(db, stats_tx, &q, print_stats);
    if (!strcmp(argv[0], "list") && argc <= 2) {
        q.state = argc == 2 ? argv[1] : "dead";
        if (strcmp(q.state, "pending") && strcmp(q.state, "running") && strcmp(q.state, "done") &&
            strcmp(q.state, "dead"))
            return usage();
        return query(db, list_tx, &q, print_list);
    }
    if ((!strcmp(argv[0], "retry") || !strcmp(argv[0], "discard")) && argc == 2)
        return act(db, argv[0], argv[1]);
    return usage();
}
