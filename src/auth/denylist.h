/* denylist.h - the in-process cache of revoked access tokens (internal to
 * src/auth).
 *
 * Two kinds of entries, each kept until it no longer matters:
 *   a jti      - that one token is refused until it expires (logout);
 *   a user id  - every token of the user issued at or before `cutoff_ms`
 *                is refused (deactivation, role change).
 * auth.c fills it from auth_revocations (at start and by its poller) and
 * directly when this node revokes something.
 *
 * Thread safety: every function may be called from any thread (one
 * pthread rwlock; lookups take it shared).
 */
#ifndef SOUK_AUTH_DENYLIST_H
#define SOUK_AUTH_DENYLIST_H

#include <stdint.h>

void denylist_init(void);
void denylist_cleanup(void); /* frees everything; safe without init */
/* expires_us: when the entry can be forgotten. Adding again keeps the
 * larger cutoff and expiry. */
void denylist_add_jti(const char *jti, int64_t expires_us);
void denylist_add_user(const char *user_id, int64_t cutoff_ms, int64_t expires_us);
int denylist_has_jti(const char *jti);
/* The user's cutoff in ms, or 0 when none. */
int64_t denylist_user_cutoff(const char *user_id);
/* Drops entries that expired before now_us. Returns how many are left. */
long denylist_purge(int64_t now_us);

#endif
