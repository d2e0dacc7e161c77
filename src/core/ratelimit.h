/* ratelimit.h - rate limiting (ratelimit.c): token buckets and fixed-window
 * counters per key; in-process, or shared by every node through Redis when
 * SOUK_REDIS_URL is set (ratelimit_redis.c). Used by the HTTP layer (per
 * client and route) and by users (login throttling); nothing here is HTTP.
 *
 * Thread safety: every function may be called from any thread after
 * ratelimit_init; init and shutdown from the main thread.
 */
#ifndef SOUK_RATELIMIT_H
#define SOUK_RATELIMIT_H

/* Token buckets per key; in-process, or shared through Redis when
 * SOUK_REDIS_URL is set. Returns 0 when allowed, SOUK_RATE_LIMITED with
 * *retry_after (seconds) when not. */
int ratelimit_init(const char *redis_url); /* NULL/empty: in-process only */
void ratelimit_shutdown(void);
int ratelimit_take(const char *key, double per_second, int burst, int *retry_after);
/* Fixed-window counter (login throttling): adds one to key for a window of
 * `window` seconds and returns the new count; *ttl gets seconds left. */
long ratelimit_hit(const char *key, int window, int *ttl);
long ratelimit_count(const char *key, int *ttl);
void ratelimit_reset(const char *key);

#endif
