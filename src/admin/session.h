/* session.h - server-side sessions of the admin console.
 *
 * API.md § "Admin console": cookie `souk_admin`, the session ends at
 * logout, after 12 h, or on a change of the user's role or activity. The
 * cookie carries 32 random bytes (base64url); the admin_sessions table
 * (migration 0017) keeps only their SHA-256, the user, the role the session
 * was opened with and the session's CSRF token. Loading a session re-reads
 * the user (users.h): another role, a deactivated or a non-staff user ends
 * the session there and then, so every node agrees without a cache.
 *
 * Thread-safe: all state is in the database.
 */
#ifndef SOUK_ADMIN_SESSION_H
#define SOUK_ADMIN_SESSION_H

#include <stdint.h>
#include "core/err.h"
#include "users/users.h"

struct db;

#define ADMIN_SESSION_TTL_US (12LL * 3600 * 1000000)
#define ADMIN_TOKEN_LEN 44 /* base64url of 32 bytes + NUL */

struct admin_session {
    char id[37];
    char csrf[ADMIN_TOKEN_LEN];
    struct user user;
};

/* A fresh random token (base64url of 32 bytes). */
void admin_token_new(char out[ADMIN_TOKEN_LEN]);
/* Opens a session for a staff user; token gets the cookie value. */
int admin_session_open(struct db *db, const struct user *u, char token[ADMIN_TOKEN_LEN],
                       struct admin_session *out, struct souk_errinfo *ei);
/* SOUK_NOT_FOUND when the token names no live session (unknown, expired, or
 * ended here because the user changed). */
int admin_session_load(struct db *db, const char *token, struct admin_session *out,
                       struct souk_errinfo *ei);
/* Ends the session of token (no error when there is none). */
int admin_session_close(struct db *db, const char *token, struct souk_errinfo *ei);

#endif
