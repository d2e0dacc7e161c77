/* config.h - configuration from the environment, then command-line flags.
 * See README.md for the table of every variable. */
#ifndef SOUK_CONFIG_H
#define SOUK_CONFIG_H

#include <stdint.h>
#include <stddef.h>

struct souk_config {
    char data_dir[512];      /* SOUK_DATA_DIR, default ./data */
    char database_url[1024]; /* SOUK_DATABASE_URL, default sqlite:///<data_dir>/souk.db */
    char listen_host[128];   /* SOUK_LISTEN host part, default 127.0.0.1 */
    int listen_port;         /* SOUK_LISTEN port part, default 8000 (0 = any free port) */
    char public_url[512];    /* SOUK_PUBLIC_URL, default http://<listen> */
    char secret_key[256];    /* SOUK_SECRET_KEY, else <data_dir>/secret_key (0600, generated) */
    char database_replica_url[1024]; /* SOUK_DATABASE_REPLICA_URL, optional: a hot standby */
    char redis_url[512];     /* SOUK_REDIS_URL, optional */
    char smtp_url[512];      /* SOUK_SMTP_URL, optional */
    char media_dir[512];     /* SOUK_MEDIA_DIR, default <data_dir>/media */
    char log_level[16];      /* SOUK_LOG_LEVEL, default info */
    int access_log;          /* SOUK_ACCESS_LOG, default 1 */
    int workers;             /* SOUK_WORKERS: HTTP handler threads; default 2*cores, min 2 (bench/pools.sh) */
    int db_pool;             /* SOUK_DB_POOL, default workers + job workers + 2 (bench/pools.sh) */
    int job_workers;         /* SOUK_JOB_WORKERS, default 2, 0 allowed */
    size_t max_body;         /* SOUK_MAX_BODY_BYTES, default 1 MiB */
    size_t media_max_bytes;  /* SOUK_MEDIA_MAX_BYTES per uploaded file, default 10 MiB */
    int max_connections;     /* SOUK_MAX_CONNECTIONS, default 4096; past it: 503 */
    int max_connections_per_ip; /* SOUK_MAX_CONNECTIONS_PER_IP, default 256; 0 off; trusted proxies exempt */
    int header_timeout;      /* SOUK_HEADER_TIMEOUT seconds, default 10 */
    int body_timeout;        /* SOUK_BODY_TIMEOUT seconds, default 60 */
    int idle_timeout;        /* SOUK_IDLE_TIMEOUT seconds (keep-alive), default 60 */
    char trusted_proxies[1024]; /* SOUK_TRUSTED_PROXIES CIDR list, default none */
    int db_prepared;         /* SOUK_DB_PREPARED, default 1; 0 for pgbouncer transaction pooling */
    int shutdown_timeout;    /* SOUK_SHUTDOWN_TIMEOUT seconds, default 20 */
    int page_size_default;   /* 20 */
    int page_size_max;       /* 100 */
    int rate_limit_rps;      /* SOUK_RATE_LIMIT_RPS per client address, default 50; 0 off */
    int rate_limit_burst;    /* SOUK_RATE_LIMIT_BURST, default 100 */
    int access_token_ttl;    /* SOUK_ACCESS_TOKEN_TTL seconds, default 3600 */
    int refresh_token_ttl;   /* SOUK_REFRESH_TOKEN_TTL seconds, default 14 days */
    int login_max_failures;  /* SOUK_LOGIN_MAX_FAILURES, default 10 */
    int login_window;        /* SOUK_LOGIN_WINDOW_SECONDS, default 900 */
    uint64_t argon_opslimit; /* SOUK_ARGON2_OPSLIMIT, default crypto_pwhash_OPSLIMIT_INTERACTIVE */
    size_t argon_memlimit;   /* SOUK_ARGON2_MEMLIMIT bytes, default crypto_pwhash_MEMLIMIT_INTERACTIVE */
    char payments[16];       /* SOUK_PAYMENTS: sandbox (default) | stripe */
    char stripe_secret_key[256];
    char stripe_webhook_secret[256];
    char stripe_api_base[512];
    int sandbox_port;        /* SOUK_SANDBOX_PORT, default 0 = any free loopback port */
    int sandbox_period_seconds; /* default 2592000 (30 days) */
    int grace_seconds;          /* default 259200 */
    int checkout_ttl_seconds;   /* default 1800 */
    int auction_payment_window_seconds; /* default 172800 */
    int promotion_day_seconds;  /* SOUK_PROMOTION_DAY_SECONDS, default 86400 */
};

/* Fills defaults, then the environment. Returns 0, or -1 with a message in
 * err (for example "SOUK_LISTEN: port out of range"). */
int config_load(struct souk_config *c, char *err, size_t errlen);
/* Applies one "--name value" flag (name as in the env var without SOUK_ and
 * lower-case with dashes: --listen, --database-url, --data-dir, --workers...).
 * Returns 0, or -1 with a message. */
int config_set(struct souk_config *c, const char *name, const char *value, char *err,
               size_t errlen);
/* Final derivations (public_url, database_url default, secret key file).
 * Creates data_dir. 0 ok, -1 with a message. */
int config_finish(struct souk_config *c, char *err, size_t errlen);
/* Parses "host:port" into the struct. */
int config_parse_listen(struct souk_config *c, const char *s);

extern struct souk_config *souk_cfg; /* the process's configuration */

#endif
