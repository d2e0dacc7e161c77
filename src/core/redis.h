/* redis.h - the one place souk turns SOUK_REDIS_URL into a Redis connection.
 *
 * Used by the token denylist (auth/redis_deny.c), shared rate limits (core/ratelimit_redis.c),
 * live notifications (notify/notify.c) and the subscription grant cache (subscriptions/cache.c).
 *
 * URL form: redis://[[user]:password@]host[:port][/db] (TLS-less). "user:pw@" logs in as the ACL
 * user (AUTH user pw), ":pw@" and "pw@" with the default user (AUTH pw); port defaults to 6379,
 * db to 0. Nothing is shared between threads: a struct redis_url is a value, and each connection
 * belongs to whoever opened it (hiredis contexts are not thread-safe).
 */
#ifndef SOUK_REDIS_H
#define SOUK_REDIS_H

#include <hiredis/hiredis.h>

struct redis_url {
    char host[256];
    int port;
    char user[128];
    char pass[256];
    int db;
};

/* Parses url into u. 0 ok; -1 when it is not a redis:// URL of the form above (empty host, port
 * outside 1..65535, db outside 0..65535, parts too long). */
int redis_url_parse(const char *url, struct redis_url *u);

/* Connects within connect_ms, sets a per-command timeout of io_ms (0: none, for a subscriber
 * that waits for messages), logs in and selects the database. Returns the connection, or NULL
 * with a reason in why (why may be NULL). */
redisContext *redis_open(const struct redis_url *u, int connect_ms, int io_ms, char *why,
                         size_t whylen);

#endif
