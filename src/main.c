/* main.c - the souk command line: serve, worker, migrate, createuser,
 * routes, version. Each command parses its own flags; every configuration
 * flag (--listen, --database-url, ...; see README.md) works with every
 * command and wins over the environment. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "db/db.h"
#include "demo/demo.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "users/users.h"
#include "testjobs.h"
#include "version.h"

struct cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* command-specific flags */
};

static struct souk_config cfg;

static void die_cfg(const char *msg)
{
    fprintf(stderr, "souk: %s\n", msg);
    exit(2);
}

/* Parses --name value / --name=value pairs: command flags go to `mine`
 * (a NULL-terminated list of names, values stored in `vals`), everything
 * else to the configuration. */
static void parse_flags(int argc, char **argv, const char *const *mine, const char **vals)
{
    char err[256];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val;
        char name[64];
        const char *eq;

        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "souk: unexpected argument \"%s\" (see --help)\n", a);
            exit(2);
        }
        a += 2;
        eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
            if (i + 1 >= argc) {
                fprintf(stderr, "souk: --%s needs a value\n", name);
                exit(2);
            }
            val = argv[++i];
        }
        int found = 0;
        for (int k = 0; mine && mine[k]; k++) {
            if (strcmp(mine[k], name) == 0) {
                vals[k] = val;
                found = 1;
            }
        }
        if (!found && config_set(&cfg, name, val, err, sizeof err))
            die_cfg(err);
    }
}

static void finish_config(void)
{
    char err[256];
    enum log_level lvl;

    if (config_finish(&cfg, err, sizeof err))
        die_cfg(err);
    if (log_parse_level(cfg.log_level, &lvl))
        die_cfg("SOUK_LOG_LEVEL: expected debug, info, warn or error");
    log_set_level(lvl);
}

/* Opens the database and applies pending migrations (*napplied, if not
 * NULL, gets how many were new). */
static struct db *open_db(int pool, int *napplied)
{
    struct souk_errinfo ei = {0};
    struct db *db;
    int applied = 0;

    if (db_open(cfg.database_url, pool, &db, &ei)) {
        fprintf(stderr, "souk: cannot open database: %s\n", ei.detail);
        exit(1);
    }
    if (db_migrate(db, &applied, NULL, &ei)) { /* db logs each file it applies */
        fprintf(stderr, "souk: migrations failed: %s\n", ei.detail);
        db_close(db);
        exit(1);
    }
    if (applied)
        log_info("database migrated: %d new migration(s)", applied);
    if (napplied)
        *napplied = applied;
    return db;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

/* Blocks SIGINT/SIGTERM in every thread (the main thread waits for them
 * with sigwait) and ignores SIGPIPE. Call before starting any thread. */
static void setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int cmd_serve(int argc, char **argv)
{
    struct souk_errinfo ei = {0};
    struct http_server *srv;
    struct router *r;
    struct db *db;

    parse_flags(argc, argv, NULL, NULL);
    finish_config();
    setup_signals();
    raise_nofile();

    db = open_db(cfg.db_pool, NULL);
    if (cfg.database_replica_url[0] &&
        db_replica_attach(db, cfg.database_replica_url, cfg.db_pool, cfg.redis_url, &ei)) {
        fprintf(stderr, "souk: %s\n", ei.detail);
        db_close(db);
        return 1;
    }
    if (app_init(db, &ei)) {
        fprintf(stderr, "souk: start-up failed: %s\n", ei.detail);
        db_close(db);
        return 1;
    }
    r = router_new();
    app_register_routes(r);
    struct http_server_opts o = {
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        .workers = cfg.workers,
        .max_body = cfg.max_body,
        .max_connections = cfg.max_connections,
        .shutdown_timeout = cfg.shutdown_timeout,
        .access_log = cfg.access_log,
        .sse_heartbeat = 15,
        .rate_rps = cfg.rate_limit_rps,
        .rate_burst = cfg.rate_limit_burst,
        .db = db,
    };
    srv = http_server_start(&o, r, &ei);
    if (!srv) {
        fprintf(stderr, "souk: cannot listen on %s:%d: %s\n", cfg.listen_host, cfg.listen_port,
                ei.detail);
        app_shutdown();
        router_free(r);
        db_close(db);
        return 1;
    }
    log_json(LOG_INFO, "listening",
             json_pack("{s:s, s:i, s:s, s:i, s:s}", "host", cfg.listen_host, "port",
                       http_server_port(srv), "database",
                       db_dialect(db) == DB_SQLITE ? "sqlite" : "postgresql", "workers",
                       cfg.workers, "version", SOUK_VERSION));
    int sig = wait_for_signal();
    log_info("signal %d: shutting down (draining in-flight requests)", sig);
    http_server_stop(srv);
    app_shutdown();
    router_free(r);
    db_close(db);
    log_info("stopped");
    return 0;
}

static int cmd_worker(int argc, char **argv)
{
    struct souk_errinfo ei = {0};
    struct db *db;

    parse_flags(argc, argv, NULL, NULL);
    finish_config();
    setup_signals();
    db = open_db(cfg.job_workers + 2, NULL);
    if (app_init_modules(db, &ei) || jobs_start(db, cfg.job_workers, &ei)) {
        fprintf(stderr, "souk worker: start-up failed: %s\n", ei.detail);
        app_shutdown();
        db_close(db);
        return 1;
    }
    log_json(LOG_INFO, "worker started",
             json_pack("{s:s, s:i}", "node", jobs_node_id(), "threads", cfg.job_workers));
    int sig = wait_for_signal();
    log_info("signal %d: stopping (letting running jobs finish)", sig);
    app_shutdown();
    db_close(db);
    log_info("stopped");
    return 0;
}

static int cmd_jobs(int argc, char **argv)
{
    /* souk jobs SUBCOMMAND [ARGS...] [--flags]: positional words go to the
     * jobs CLI, --flags to the configuration. */
    char *words[16];
    int nwords = 0, i = 0;

    while (i < argc && strncmp(argv[i], "--", 2) != 0 && nwords < 16)
        words[nwords++] = argv[i++];
    parse_flags(argc - i, argv + i, NULL, NULL);
    if (nwords == 0) {
        fprintf(stderr, "usage: souk jobs list|stats|retry ID|discard ID (see --help)\n");
        return 2;
    }
    finish_config();
    struct db *db = open_db(1, NULL);
    testjobs_init();
    int rc = jobs_cli(db, nwords, words);
    db_close(db);
    return rc;
}

static int cmd_migrate(int argc, char **argv)
{
    parse_flags(argc, argv, NULL, NULL);
    finish_config();
    int applied = 0;
    struct db *db = open_db(1, &applied);
    printf("migrations: %d applied, database is up to date\n", applied);
    db_close(db);
    return 0;
}

static int cmd_createuser(int argc, char **argv)
{
    static const char *const names[] = {"email", "password", "role", "first-name", "last-name",
                                        NULL};
    const char *v[6] = {0};
    struct souk_errinfo ei = {0};
    char id[37];

    parse_flags(argc, argv, names, v);
    if (!v[0] || !v[1]) {
        fprintf(stderr, "souk createuser: --email and --password are required\n");
        return 2;
    }
    if (!v[2])
        v[2] = "CUSTOMER";
    finish_config();
    struct db *db = open_db(1, NULL);
    int err = users_create(db, v[0], v[1], v[2], v[3] ? v[3] : "", v[4] ? v[4] : "", id, &ei);
    db_close(db);
    if (err) {
        fprintf(stderr, "souk createuser: %s: %s\n", souk_err_code(err),
                ei.detail[0] ? ei.detail : "failed");
        if (ei.errors) {
            char *s = json_dumps(ei.errors, JSON_COMPACT);
            fprintf(stderr, "  %s\n", s ? s : "");
            free(s);
        }
        souk_errinfo_cleanup(&ei);
        return 1;
    }
    printf("created %s user %s (id %s)\n", v[2], v[0], id);
    return 0;
}

/* A progress bar on a terminal; a line per tenth otherwise (logs, CI). */
static void demo_progress(long done, long total)
{
    static int last_tenth = -1;
    int width = 40, filled = total > 0 ? (int)(done * width / total) : width;

    if (!isatty(STDERR_FILENO)) {
        int tenth = total > 0 ? (int)(done * 10 / total) : 10;
        if (tenth != last_tenth)
            fprintf(stderr, "recipes: %ld/%ld (%d%%)\n", done, total, tenth * 10);
        last_tenth = tenth;
        return;
    }
    fprintf(stderr, "\rrecipes [%.*s%*s] %ld/%ld", filled,
            "########################################", width - filled, "", done, total);
    if (done >= total)
        fputc('\n', stderr);
}

static int cmd_demo(int argc, char **argv)
{
    static const char *const names[] = {"recipes", NULL};
    const char *v[1] = {0};
    struct souk_errinfo ei = {0};
    long n = DEMO_RECIPES_DEFAULT;
    char *end;

    parse_flags(argc, argv, names, v);
    if (v[0]) {
        n = strtol(v[0], &end, 10);
        if (*end || n < 1 || n > 50000000) {
            fprintf(stderr, "souk demo: --recipes expects a number from 1 to 50000000\n");
            return 2;
        }
    }
    finish_config();
    struct db *db = open_db(2, NULL);
    if (app_init_modules(db, &ei)) {
        fprintf(stderr, "souk demo: start-up failed: %s\n", ei.detail);
        db_close(db);
        return 1;
    }
    int err = demo_run(db, (int)n, demo_progress);
    app_shutdown();
    db_close(db);
    if (err) {
        fprintf(stderr, "souk demo: failed (%s); see the log above\n", souk_err_code(err));
        return 1;
    }
    return 0;
}

static int cmd_routes(int argc, char **argv)
{
    struct http_route_info info[512];
    struct router *r;
    int n;

    parse_flags(argc, argv, NULL, NULL);
    r = router_new();
    app_register_routes(r);
    n = http_routes(r, info, 512);
    for (int i = 0; i < n && i < 512; i++)
        printf("%s %s\n", info[i].method, info[i].tmpl);
    router_free(r);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("souk %s\n", SOUK_VERSION);
    return 0;
}

static const struct cmd cmds[] = {
    {"serve", cmd_serve, "apply pending migrations and serve HTTP", ""},
    {"worker", cmd_worker, "run background jobs only (for extra machines)",
     "  --job-workers N    job threads (SOUK_JOB_WORKERS, default 2)\n"},
    {"jobs", cmd_jobs, "inspect the job queue: list, stats, retry ID, discard ID",
     "  souk jobs stats              counts by kind and state\n"
     "  souk jobs list [STATE]       jobs in a state (default dead)\n"
     "  souk jobs retry ID           make a dead job run again now\n"
     "  souk jobs discard ID         give up on a pending or dead job\n"},
    {"migrate", cmd_migrate, "apply pending database migrations and exit", ""},
    {"createuser", cmd_createuser, "create a user of any role",
     "  --email E          e-mail address (required)\n"
     "  --password P       password, 10+ characters, not all digits (required)\n"
     "  --role R           CUSTOMER (default), VENDOR, MODERATOR or ADMIN\n"
     "  --first-name F     optional\n"
     "  --last-name L      optional\n"},
    {"demo", cmd_demo, "load a demo marketplace (chefs, plans, recipes, subscribers)",
     "  --recipes N        how many recipes (default 3000; 1000000 for benchmarks)\n"},
    {"routes", cmd_routes, "print every route the server serves (METHOD TEMPLATE)", ""},
    {"version", cmd_version, "print the version", ""},
};

static void usage(FILE *f)
{
    fprintf(f, "souk %s - a backend server for subscription-driven marketplaces\n\n"
               "usage: souk COMMAND [--option value ...]\n\ncommands:\n",
            SOUK_VERSION);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n`souk COMMAND --help` for a command's options. Configuration comes from the\n"
               "environment (SOUK_LISTEN, SOUK_DATABASE_URL, ...: see README.md) and from the\n"
               "same names as flags (--listen 127.0.0.1:8000, --database-url URL, ...).\n");
}

static void cmd_usage(const struct cmd *c)
{
    printf("usage: souk %s [options]\n\n%s.\n", c->name, c->summary);
    if (c->usage[0])
        printf("\noptions:\n%s", c->usage);
    printf("\nconfiguration flags (any command): --data-dir DIR, --database-url URL,\n"
           "  --listen HOST:PORT, --public-url URL, --workers N, --log-level LEVEL, ...\n"
           "  (every SOUK_* variable in README.md, lower-case with dashes)\n");
}

int main(int argc, char **argv)
{
    char err[256];

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(0, NULL);
    souk_cfg = &cfg;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        for (int k = 2; k < argc; k++) {
            if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
                cmd_usage(&cmds[i]);
                return 0;
            }
        }
        if (config_load(&cfg, err, sizeof err))
            die_cfg(err);
        const char *off = getenv("SOUK_CLOCK_OFFSET_SECONDS"); /* tests only */
        if (off && *off)
            clock_set_offset_us((int64_t)strtoll(off, NULL, 10) * 1000000);
        return cmds[i].run(argc - 2, argv + 2);
    }
    fprintf(stderr, "souk: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
