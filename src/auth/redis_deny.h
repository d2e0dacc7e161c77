/* redis_deny.h - publishes a revoked access token to Redis as
 * `SET souk:deny:<jti> 1 EX <ttl>` (internal to src/auth). Best effort: a
 * Redis that is down is logged and otherwise ignored, because the database
 * row (auth_revocations) is what every souk node reads. Thread-safe: each
 * call uses its own short-lived connection (logouts are rare). */
#ifndef SOUK_AUTH_REDIS_DENY_H
#define SOUK_AUTH_REDIS_DENY_H

#include <stdint.h>

/* url: redis://[[user]:password@]host[:port][/db]. 0 ok, -1 not done. */
int redis_deny_set(const char *url, const char *jti, int64_t ttl_seconds);

#endif
