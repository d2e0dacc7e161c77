/* auth.h - who the caller is: roles, access and refresh tokens, revocation.
 *
 * Access tokens are HS256 JWTs (jwt.h) signed with souk_cfg->secret_key,
 * living souk_cfg->access_token_ttl seconds. Refresh tokens are 32 random
 * bytes (base64url) stored only as their SHA-256, grouped in families: a
 * refresh consumes its token and issues the next one of the same family;
 * presenting a consumed or revoked token revokes the whole family (theft
 * detection).
 *
 * Revocation of access tokens (logout, a deactivated user, a role change)
 * is a row in auth_revocations; every node keeps those rows in an
 * in-process cache (denylist.c) refreshed by a background poller about
 * once a second, so verifying a token costs no query. The node that
 * revokes updates its own cache at commit, at once.
 *
 * Tables owned here: refresh_tokens, auth_revocations.
 */
#ifndef SOUK_AUTH_H
#define SOUK_AUTH_H

#include <stdint.h>
#include "core/err.h"

struct db;
struct db_conn;
struct http_req;
struct auth_user;

enum auth_role {
    AUTH_ROLE_NONE = 0,
    AUTH_ROLE_CUSTOMER = 1,
    AUTH_ROLE_VENDOR = 2,
    AUTH_ROLE_MODERATOR = 3,
    AUTH_ROLE_ADMIN = 4
};

#define AUTH_LEEWAY_SECONDS 30
#define AUTH_ACCESS_MAX 1024 /* bytes of an access token, NUL included */
#define AUTH_REFRESH_LEN 44  /* base64url of 32 bytes + NUL */

/* "CUSTOMER" -> AUTH_ROLE_CUSTOMER; unknown or NULL -> AUTH_ROLE_NONE. */
enum auth_role auth_role_parse(const char *s);
const char *auth_role_name(int role); /* "CUSTOMER", ...; "" for NONE */

/* Starts the revocation cache and its poller, installs the bearer-token
 * hook (http_set_auth_hook). Needs souk_cfg. 0 ok. */
int auth_init(struct db *db, struct souk_errinfo *ei);
void auth_shutdown(void); /* stops the poller; safe without auth_init */

/* The hook itself (exposed for tests): verifies `token`, sets req->user, or
 * sets req->auth_err and returns SOUK_TOKEN_INVALID. */
int auth_hook(struct http_req *req, const char *token);

/* A fresh pair of tokens. */
struct auth_tokens {
    char access[AUTH_ACCESS_MAX];
    char refresh[AUTH_REFRESH_LEN];
};

/* Inside a transaction: signs an access token for (user_id, role) and
 * starts a new refresh-token family for the user. */
int auth_issue_tx(struct db_conn *c, const char *user_id, int role, struct auth_tokens *out,
                  struct souk_errinfo *ei);

/* Rotates a refresh token, in one transaction. *outcome tells what
 * happened: AUTH_REFRESH_OK (out is filled), or one of the refusals; on
 * AUTH_REFRESH_REUSED the family has been revoked (the transaction commits:
 * the function returns 0 in every refusal case). */
enum auth_refresh_outcome {
    AUTH_REFRESH_OK = 0,
    AUTH_REFRESH_UNKNOWN,  /* no such token, or expired */
    AUTH_REFRESH_REUSED,   /* used or revoked before: family revoked now */
    AUTH_REFRESH_INACTIVE  /* the user is gone or deactivated */
};
int auth_refresh(struct db *db, const char *refresh, struct auth_tokens *out,
                 enum auth_refresh_outcome *outcome, struct souk_errinfo *ei);

/* What a refresh needs of the account, inside its transaction: the role,
 * and whether it is active. SOUK_NOT_FOUND when the user is gone. The users
 * module owns the table and sets the lookup (users_init); until it is set,
 * a refresh fails with SOUK_INTERNAL and revokes nothing. */
typedef int (*auth_account_fn)(struct db_conn *c, const char *user_id, int *role,
                               int *is_active, struct souk_errinfo *ei);
void auth_set_account_lookup(auth_account_fn fn);

/* Logs the caller out, in one transaction: revokes the family of
 * `refresh` when it belongs to the caller (anything else is ignored) and
 * denies the caller's current access token until it expires. */
int auth_logout(struct db *db, const struct auth_user *u, const char *refresh,
                struct souk_errinfo *ei);

/* Inside a transaction: every access token of the user issued until now
 * stops working (deactivation, role change) and every refresh family is
 * revoked. Takes effect on this node at commit, on others within ~1 s. */
int auth_revoke_user_tx(struct db_conn *c, const char *user_id, struct souk_errinfo *ei);

#endif
