/* redis.c - see redis.h: URL parsing and connecting (connect, timeouts, AUTH, SELECT). No shared
 * state. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core/redis.h"

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* "[[user]:pass@]" or "pass@" prefix, if any; returns where the host starts (NULL: too long). */
static const char *parse_userinfo(const char *s, struct redis_url *u)
{
    const char *end = s + strcspn(s, "/"), *at = memchr(s, '@', (size_t)(end - s)), *colon;

    if (!at)
        return s;
    colon = memchr(s, ':', (size_t)(at - s));
    if (!colon)
        return copy_part(u->pass, sizeof u->pass, s, (size_t)(at - s)) ? NULL : at + 1;
    if (copy_part(u->user, sizeof u->user, s, (size_t)(colon - s)) ||
        copy_part(u->pass, sizeof u->pass, colon + 1, (size_t)(at - colon - 1)))
        return NULL;
    return at + 1;
}

static int parse_int(const char *s, size_t n, int min, int max, int *out)
{
    long v = 0;

    if (n == 0 || n > 6)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *u)
{
    const char *h, *end, *colon, *slash;

    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0 || !(h = parse_userinfo(url + 8, u)))
        return -1;
    end = h + strlen(h);
    slash = strchr(h, '/');
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 65535, &u->db))
        return -1;
    if (slash)
        end = slash;
    colon = memchr(h, ':', (size_t)(end - h));
    if (colon && parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &u->port))
        return -1;
    if (colon)
        end = colon;
    if (end == h || copy_part(u->host, sizeof u->host, h, (size_t)(end - h)))
        return -1;
    return 0;
}

/* Runs one setup command; 0 when Redis answered without an error. */
static int setup_cmd(redisContext *c, int argc, const char **argv, char *why, size_t whylen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;

    if (!ok && why)
        snprintf(why, whylen, "%s: %s", argv[0], r ? r->str : c->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static int login(redisContext *c, const struct redis_url *u, char *why, size_t whylen)
{
    char db[16];

    if (u->user[0] && setup_cmd(c, 3, (const char *[]){"AUTH", u->user, u->pass}, why, whylen))
        return -1;
    if (!u->user[0] && u->pass[0] &&
        setup_cmd(c, 2, (const char *[]){"AUTH", u->pass}, why, whylen))
        return -1;
    if (u->db) {
        snprintf(db, sizeof db, "%d", u->db);
        if (setup_cmd(c, 2, (const char *[]){"SELECT", db}, why, whylen))
            return -1;
    }
    return 0;
}

redisContext *redis_open(const struct redis_url *u, int connect_ms, int io_ms, char *why,
                         size_t whylen)
{
    struct timeval ct = {connect_ms / 1000, (connect_ms % 1000) * 1000};
    struct timeval io = {io_ms / 1000, (io_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(u->host, u->port, ct);

    if (!c || c->err) {
        if (why)
            snprintf(why, whylen, "connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (io_ms > 0 && redisSetTimeout(c, io) != REDIS_OK) {
        if (why)
            snprintf(why, whylen, "timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (login(c, u, why, whylen)) {
        redisFree(c);
        return NULL;
    }
    return c;
}
