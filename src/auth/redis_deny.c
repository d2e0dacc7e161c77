/* redis_deny.c - see redis_deny.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "auth/redis_deny.h"
#include "core/log.h"

#define REDIS_TIMEOUT_MS 250

struct redis_url {
    char host[256];
    int port;
    char user[128];
    char pass[256];
    int dbnum;
};

/* Parses redis://[[user]:password@]host[:port][/db]. 0 ok. */
static int url_parse(const char *url, struct redis_url *u)
{
    const char *p, *at, *slash, *colon;
    size_t hostlen;

    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    p = url + 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *c = memchr(p, ':', (size_t)(at - p));
        if (c) {
            snprintf(u->user, sizeof u->user, "%.*s", (int)(c - p), p);
            snprintf(u->pass, sizeof u->pass, "%.*s", (int)(at - c - 1), c + 1);
        }
        p = at + 1;
    }
    hostlen = slash ? (size_t)(slash - p) : strlen(p);
    colon = memchr(p, ':', hostlen);
    if (colon) {
        u->port = atoi(colon + 1);
        hostlen = (size_t)(colon - p);
    }
    if (hostlen == 0 || hostlen >= sizeof u->host || u->port <= 0 || u->port > 65535)
        return -1;
    memcpy(u->host, p, hostlen);
    u->dbnum = slash && slash[1] ? atoi(slash + 1) : 0;
    return 0;
}

/* Runs one command; 0 when Redis answered without an error. */
static int command_ok(redisContext *rc, redisReply *rep)
{
    int ok = rep && rep->type != REDIS_REPLY_ERROR;

    (void)rc;
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int login(redisContext *rc, const struct redis_url *u)
{
    if (u->pass[0] && u->user[0])
        return command_ok(rc, redisCommand(rc, "AUTH %s %s", u->user, u->pass));
    if (u->pass[0])
        return command_ok(rc, redisCommand(rc, "AUTH %s", u->pass));
    return 0;
}

int redis_deny_set(const char *url, const char *jti, int64_t ttl_seconds)
{
    struct timeval tv = {0, REDIS_TIMEOUT_MS * 1000};
    struct redis_url u;
    redisContext *rc;
    int err = -1;

    if (url_parse(url, &u)) {
        log_warn("auth: SOUK_REDIS_URL is not a redis:// URL; denylist not published");
        return -1;
    }
    rc = redisConnectWithTimeout(u.host, u.port, tv);
    if (rc && !rc->err && redisSetTimeout(rc, tv) == REDIS_OK && !login(rc, &u) &&
        (!u.dbnum || !command_ok(rc, redisCommand(rc, "SELECT %d", u.dbnum))))
        err = command_ok(rc, redisCommand(rc, "SET souk:deny:%s 1 EX %lld", jti,
                                          (long long)(ttl_seconds > 0 ? ttl_seconds : 1)));
    if (err)
        log_warn("auth: could not publish a revoked token to Redis: %s",
                 rc && rc->err ? rc->errstr : "command failed");
    redisFree(rc);
    return err;
}
