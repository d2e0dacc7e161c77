/* ratelimit_redis.h - the Redis backend of ratelimit.c (internal).
 *
 * Each operation returns 0 when Redis answered, -1 when it did not (not
 * configured, unreachable, an error reply); ratelimit.c then answers from
 * its in-process store, so a Redis outage never refuses requests.
 * Thread-safe after ratelimit_redis_open(); open/close are not.
 */
#ifndef SOUK_RATELIMIT_REDIS_H
#define SOUK_RATELIMIT_REDIS_H

/* Parses redis://[[user]:password@]host[:port][/db] and connects (a failed
 * connection is logged and retried later, not an error). -1: bad URL. */
int ratelimit_redis_open(const char *url);
void ratelimit_redis_close(void);

/* Token bucket: *retry_after = 0 when allowed, else seconds to wait. */
int ratelimit_redis_take(const char *key, double rate, int burst, int *retry_after);
int ratelimit_redis_hit(const char *key, int window, long *count, int *ttl);
int ratelimit_redis_count(const char *key, long *count, int *ttl);
int ratelimit_redis_reset(const char *key);

#endif
