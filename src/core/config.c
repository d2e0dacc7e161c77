/* config.c - defaults, then environment variables, then flags.
 *
 * Every setting has one entry in the table below: its environment name,
 * its flag name (derived: SOUK_DATABASE_URL -> --database-url), its kind and
 * where it lands in struct souk_config. README.md documents the same table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "core/config.h"

struct souk_config *souk_cfg;

enum kind { K_STR, K_INT, K_SIZE, K_U64, K_BOOL, K_LISTEN };

struct opt {
    const char *env;
    enum kind kind;
    size_t off;
    size_t len;         /* for K_STR */
    long long min, max; /* for numbers */
};

#define S(env, f) {env, K_STR, offsetof(struct souk_config, f), sizeof(((struct souk_config *)0)->f), 0, 0}
#define I(env, f, lo, hi) {env, K_INT, offsetof(struct souk_config, f), 0, lo, hi}
#define Z(env, f, lo, hi) {env, K_SIZE, offsetof(struct souk_config, f), 0, lo, hi}
#define U(env, f, lo, hi) {env, K_U64, offsetof(struct souk_config, f), 0, lo, hi}
#define B(env, f) {env, K_BOOL, offsetof(struct souk_config, f), 0, 0, 1}

static const struct opt opts[] = {
    S("SOUK_DATA_DIR", data_dir),
    S("SOUK_DATABASE_URL", database_url),
    {"SOUK_LISTEN", K_LISTEN, 0, 0, 0, 0},
    S("SOUK_PUBLIC_URL", public_url),
    S("SOUK_SECRET_KEY", secret_key),
    S("SOUK_DATABASE_REPLICA_URL", database_replica_url),
    S("SOUK_REDIS_URL", redis_url),
    S("SOUK_SMTP_URL", smtp_url),
    S("SOUK_MEDIA_DIR", media_dir),
    S("SOUK_LOG_LEVEL", log_level),
    B("SOUK_ACCESS_LOG", access_log),
    I("SOUK_WORKERS", workers, 1, 1024),
    I("SOUK_DB_POOL", db_pool, 1, 1024),
    I("SOUK_JOB_WORKERS", job_workers, 0, 256),
    Z("SOUK_MAX_BODY_BYTES", max_body, 1, 1LL << 32),
    Z("SOUK_MEDIA_MAX_BYTES", media_max_bytes, 1, 1LL << 30),
    I("SOUK_MAX_CONNECTIONS", max_connections, 16, 1000000),
    I("SOUK_SHUTDOWN_TIMEOUT", shutdown_timeout, 0, 3600),
    I("SOUK_MAX_CONNECTIONS_PER_IP", max_connections_per_ip, 0, 1000000),
    I("SOUK_HEADER_TIMEOUT", header_timeout, 1, 3600),
    I("SOUK_BODY_TIMEOUT", body_timeout, 1, 86400),
    I("SOUK_IDLE_TIMEOUT", idle_timeout, 1, 86400),
    S("SOUK_TRUSTED_PROXIES", trusted_proxies),
    B("SOUK_DB_PREPARED", db_prepared),
    I("SOUK_PAGE_SIZE", page_size_default, 1, 1000),
    I("SOUK_PAGE_SIZE_MAX", page_size_max, 1, 1000),
    I("SOUK_RATE_LIMIT_RPS", rate_limit_rps, 0, 1000000),
    I("SOUK_RATE_LIMIT_BURST", rate_limit_burst, 1, 1000000),
    I("SOUK_ACCESS_TOKEN_TTL", access_token_ttl, 10, 31 * 86400),
    I("SOUK_REFRESH_TOKEN_TTL", refresh_token_ttl, 60, 365 * 86400),
    I("SOUK_LOGIN_MAX_FAILURES", login_max_failures, 1, 1000000),
    I("SOUK_LOGIN_WINDOW_SECONDS", login_window, 1, 86400 * 7),
    U("SOUK_ARGON2_OPSLIMIT", argon_opslimit, 1, 64),
    Z("SOUK_ARGON2_MEMLIMIT", argon_memlimit, 8192, 1LL << 32),
    S("SOUK_PAYMENTS", payments),
    S("STRIPE_SECRET_KEY", stripe_secret_key),
    S("STRIPE_WEBHOOK_SECRET", stripe_webhook_secret),
    S("STRIPE_API_BASE", stripe_api_base),
    I("SOUK_SANDBOX_PORT", sandbox_port, 0, 65535),
    I("SOUK_SANDBOX_PERIOD_SECONDS", sandbox_period_seconds, 1, 400 * 86400),
    I("SOUK_GRACE_SECONDS", grace_seconds, 0, 90 * 86400),
    I("SOUK_CHECKOUT_TTL_SECONDS", checkout_ttl_seconds, 1, 86400),
    I("SOUK_AUCTION_PAYMENT_WINDOW_SECONDS", auction_payment_window_seconds, 1, 90 * 86400),
    I("SOUK_PROMOTION_DAY_SECONDS", promotion_day_seconds, 1, 86400),
};

static void defaults(struct souk_config *c)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "./data");
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8000;
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->access_log = 1;
    c->workers = ncpu > 0 ? (int)(ncpu * 2) : 4;
    if (c->workers < 2)
        c->workers = 2;
    c->job_workers = 2;
    c->max_body = 1 << 20;
    c->media_max_bytes = 10 << 20;
    c->max_connections = 4096;
    c->max_connections_per_ip = 256;
    c->header_timeout = 10;
    c->body_timeout = 60;
    c->idle_timeout = 60;
    c->db_prepared = 1;
    c->shutdown_timeout = 20;
    c->page_size_default = 20;
    c->page_size_max = 100;
    c->rate_limit_rps = 50;
    c->rate_limit_burst = 100;
    c->access_token_ttl = 3600;
    c->refresh_token_ttl = 14 * 86400;
    c->login_max_failures = 10;
    c->login_window = 900;
    c->argon_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    c->argon_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    snprintf(c->payments, sizeof c->payments, "sandbox");
    snprintf(c->stripe_api_base, sizeof c->stripe_api_base, "https://api.stripe.com");
    c->sandbox_period_seconds = 30 * 86400;
    c->grace_seconds = 3 * 86400;
    c->checkout_ttl_seconds = 1800;
    c->auction_payment_window_seconds = 48 * 3600;
    c->promotion_day_seconds = 86400;
}

static void flag_name(const char *env, char *out, size_t n)
{
    const char *s = strncmp(env, "SOUK_", 5) == 0 ? env + 5 : env;
    size_t i = 0;
    for (; *s && i + 1 < n; s++, i++)
        out[i] = *s == '_' ? '-' : (char)((*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : *s);
    out[i] = 0;
}

int config_parse_listen(struct souk_config *c, const char *s)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t hl;

    if (!colon || colon == s)
        return -1;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && colon[-1] == ']') { /* [::1]:8000 */
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof c->listen_host)
        return -1;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memcpy(c->listen_host, s, hl);
    c->listen_host[hl] = 0;
    c->listen_port = (int)port;
    return 0;
}

static int set(struct souk_config *c, const struct opt *o, const char *value, char *err,
               size_t errlen)
{
    char *p = (char *)c + o->off, *end;
    long long v = 0;
    unsigned long long u = 0;

    switch (o->kind) {
    case K_STR:
        if (strlen(value) >= o->len) {
            snprintf(err, errlen, "%s: value too long (max %zu bytes)", o->env, o->len - 1);
            return -1;
        }
        memcpy(p, value, strlen(value) + 1);
        return 0;
    case K_LISTEN:
        if (config_parse_listen(c, value)) {
            snprintf(err, errlen, "%s: expected HOST:PORT with a port 0-65535, got \"%s\"", o->env,
                     value);
            return -1;
        }
        return 0;
    case K_BOOL:
        if (!strcmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
            !strcasecmp(value, "on"))
            *(int *)p = 1;
        else if (!strcmp(value, "0") || !strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                 !strcasecmp(value, "off"))
            *(int *)p = 0;
        else {
            snprintf(err, errlen, "%s: expected true or false, got \"%s\"", o->env, value);
            return -1;
        }
        return 0;
    default:
        break;
    }
    errno = 0;
    if (value[0] == '-') {
        snprintf(err, errlen, "%s: must not be negative", o->env);
        return -1;
    }
    u = strtoull(value, &end, 10);
    v = (long long)u;
    if (errno || *end || end == value || u > (unsigned long long)LLONG_MAX || v < o->min ||
        v > o->max) {
        snprintf(err, errlen, "%s: expected a whole number from %lld to %lld, got \"%s\"", o->env,
                 o->min, o->max, value);
        return -1;
    }
    if (o->kind == K_INT)
        *(int *)p = (int)v;
    else if (o->kind == K_SIZE)
        *(size_t *)p = (size_t)v;
    else
        *(uint64_t *)p = (uint64_t)v;
    return 0;
}

int config_load(struct souk_config *c, char *err, size_t errlen)
{
    defaults(c);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        const char *v = getenv(opts[i].env);
        if (v && *v && set(c, &opts[i], v, err, errlen))
            return -1;
    }
    return 0;
}

int config_set(struct souk_config *c, const char *name, const char *value, char *err,
               size_t errlen)
{
    char fn[64];
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        flag_name(opts[i].env, fn, sizeof fn);
        if (strcmp(fn, name) == 0)
            return set(c, &opts[i], value, err, errlen);
    }
    snprintf(err, errlen, "unknown option --%s", name);
    return -1;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

/* Reads the key file, or creates it (0600, 32 random bytes as hex). */
static int secret_from_file(struct souk_config *c, char *err, size_t errlen)
{
    char path[600], buf[256];
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "%s/secret_key", c->data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
            n--;
        if (n < 32) {
            snprintf(err, errlen, "%s: secret key too short (need at least 32 characters)", path);
            return -1;
        }
        buf[n] = 0;
        snprintf(c->secret_key, sizeof c->secret_key, "%s", buf);
        return 0;
    }
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(buf, sizeof buf, raw, sizeof raw);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) /* another process won the race: read theirs */
            return secret_from_file(c, err, errlen);
        snprintf(err, errlen, "%s: cannot create secret key file: %s", path, strerror(errno));
        return -1;
    }
    buf[64] = '\n';
    n = write(fd, buf, 65);
    fsync(fd);
    close(fd);
    if (n != 65) {
        snprintf(err, errlen, "%s: cannot write secret key file", path);
        return -1;
    }
    buf[64] = 0;
    snprintf(c->secret_key, sizeof c->secret_key, "%s", buf);
    return 0;
}

int config_finish(struct souk_config *c, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (mkdir_p(c->data_dir)) {
        snprintf(err, errlen, "SOUK_DATA_DIR: cannot create %s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    if (!c->database_url[0]) {
        if (c->data_dir[0] == '/')
            snprintf(c->database_url, sizeof c->database_url, "sqlite:///%s/souk.db", c->data_dir);
        else
            snprintf(c->database_url, sizeof c->database_url, "sqlite:///%s/souk.db",
                     strncmp(c->data_dir, "./", 2) == 0 ? c->data_dir + 2 : c->data_dir);
    }
    if (!c->media_dir[0]) {
        size_t dl = strlen(c->data_dir);
        if (dl + sizeof "/media" > sizeof c->media_dir) {
            snprintf(err, errlen, "SOUK_DATA_DIR: path too long");
            return -1;
        }
        memcpy(c->media_dir, c->data_dir, dl);
        memcpy(c->media_dir + dl, "/media", sizeof "/media");
    }
    if (!c->public_url[0])
        snprintf(c->public_url, sizeof c->public_url, "http://%s:%d", c->listen_host,
                 c->listen_port);
    size_t pl = strlen(c->public_url);
    while (pl > 0 && c->public_url[pl - 1] == '/')
        c->public_url[--pl] = 0;
    if (strcmp(c->payments, "sandbox") && strcmp(c->payments, "stripe")) {
        snprintf(err, errlen, "SOUK_PAYMENTS: expected sandbox or stripe, got \"%s\"", c->payments);
        return -1;
    }
    if (c->page_size_default > c->page_size_max)
        c->page_size_default = c->page_size_max;
    if (!c->db_pool)
        c->db_pool = c->workers + c->job_workers + 2;
    if (!c->secret_key[0])
        return secret_from_file(c, err, errlen);
    if (strlen(c->secret_key) < 32) {
        snprintf(err, errlen, "SOUK_SECRET_KEY: too short (need at least 32 characters)");
        return -1;
    }
    return 0;
}
