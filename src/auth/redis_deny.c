/* redis_deny.c - see redis_deny.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/redis_deny.h"
#include "core/log.h"
#include "core/redis.h"

#define REDIS_TIMEOUT_MS 250

/* Runs one command; 0 when Redis answered without an error. */
static int command_ok(redisReply *rep)
{
    int ok = rep && rep->type != REDIS_REPLY_ERROR;

    freeReplyObject(rep);
    return ok ? 0 : -1;
}

int redis_deny_set(const char *url, const char *jti, int64_t ttl_seconds)
{
    struct redis_url u;
    redisContext *rc;
    char why[256] = "command failed";
    int err = -1;

    if (redis_url_parse(url, &u)) {
        log_warn("auth: SOUK_REDIS_URL is not a redis:// URL; denylist not published");
        return -1;
    }
    rc = redis_open(&u, REDIS_TIMEOUT_MS, REDIS_TIMEOUT_MS, why, sizeof why);
    if (rc)
        err = command_ok(redisCommand(rc, "SET souk:deny:%s 1 EX %lld", jti,
                                      (long long)(ttl_seconds > 0 ? ttl_seconds : 1)));
    if (err)
        log_warn("auth: could not publish a revoked token to Redis: %s",
                 rc && rc->err ? rc->errstr : why);
    redisFree(rc);
    return err;
}
