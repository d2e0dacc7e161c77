/* users.h - people: registration, login, profile, administration.
 *
 * Owns the users table. Emails are stored normalised (users_email_normalize)
 * and unique; passwords only as Argon2id hashes (auth/password.h). Tokens
 * come from src/auth (auth_issue_tx and friends), roles from auth.h.
 *
 * Functions that take a struct db run their own transactions; *_tx
 * functions run inside the caller's. Thread-safe.
 */
#ifndef SOUK_USERS_H
#define SOUK_USERS_H

#include <stdint.h>
#include <jansson.h>
#include "auth/auth.h"
#include "auth/password.h"
#include "core/err.h"

struct db;
struct db_conn;
struct router;
struct arena;
struct keyset;

#define USER_EMAIL_MAX 254
#define USER_NAME_MAX 150

struct user {
    char id[37];
    char email[USER_EMAIL_MAX + 1];
    char first_name[USER_NAME_MAX * 4 + 1]; /* 150 characters of UTF-8 */
    char last_name[USER_NAME_MAX * 4 + 1];
    int role; /* enum auth_role */
    int is_active;
    int64_t joined_at;
};

/* What registration (or the CLI, or chef registration) asks for. */
struct user_new {
    const char *email; /* as typed; normalised by the callee */
    const char *password;
    const char *first_name;
    const char *last_name;
    int role;
};

void users_http_register(struct router *r);

/* Trims, lower-cases the domain part, checks the shape (one '@', a dot-free
 * or dotted domain, no spaces, <= 254 bytes). 0 ok, -1 not an email. */
int users_email_normalize(const char *in, char out[USER_EMAIL_MAX + 1]);
/* Field checks shared by every way of creating a user; SOUK_INVALID with
 * errors on email/password/role. Fills the normalised email. */
int users_new_check(const struct user_new *in, char email[USER_EMAIL_MAX + 1],
                    struct souk_errinfo *ei);

/* Inside a transaction: inserts a user whose password is already hashed.
 * SOUK_CONFLICT (code "conflict", errors.email) when the email is taken. */
int users_insert_tx(struct db_conn *c, const struct user_new *in, const char *email,
                    const char *password_hash, struct user *out, struct souk_errinfo *ei);
/* Checks, hashes and inserts in one transaction. */
int users_register(struct db *db, const struct user_new *in, struct user *out,
                   struct souk_errinfo *ei);
/* For `souk createuser`: any role; out_id gets the new id. */
int users_create(struct db *db, const char *email, const char *password, const char *role,
                 const char *first_name, const char *last_name, char out_id[37],
                 struct souk_errinfo *ei);

/* Login with throttling per (client_ip, email): SOUK_RATE_LIMITED (with
 * ei->retry_after), SOUK_UNAUTHENTICATED for any wrong credential or a
 * deactivated account, else the user and a fresh pair of tokens. */
int users_login(struct db *db, const char *client_ip, const char *email, const char *password,
                struct user *u, struct auth_tokens *t, struct souk_errinfo *ei);

/* The credential check of users_login, throttle included, without tokens
 * (the admin console opens its own sessions). new_hash gets a fresh hash
 * when the stored parameters are outdated ("" otherwise); may be ignored. */
int users_authenticate(struct db *db, const char *client_ip, const char *email,
                       const char *password, struct user *u, char new_hash[PASSWORD_HASH_MAX],
                       struct souk_errinfo *ei);

int users_get(struct db_conn *c, const char *id, struct user *out, struct souk_errinfo *ei);
/* The same in a read of its own. */
int users_get_one(struct db *db, const char *id, struct user *out, struct souk_errinfo *ei);
/* Sets first/last name (NULL: unchanged). */
int users_update_names(struct db *db, const char *id, const char *first_name,
                       const char *last_name, struct user *out, struct souk_errinfo *ei);

/* Administration: role (AUTH_ROLE_NONE: unchanged) and is_active (-1:
 * unchanged). Deactivating or changing the role revokes the user's tokens. */
struct audit_actor;
int users_admin_update(struct db *db, const struct audit_actor *actor, const char *id, int role,
                       int is_active, struct user *out, struct souk_errinfo *ei);

struct user_filter {
    int role;          /* AUTH_ROLE_NONE: any */
    const char *email; /* exact match after normalisation; NULL: any */
};
/* Lists users newest first (joined_at, id), ks->limit rows at most, into
 * an array allocated from a. */
int users_list(struct db *db, const struct user_filter *f, const struct keyset *ks,
               struct arena *a, struct user **out, int *n, struct souk_errinfo *ei);

/* Ids of active MODERATOR and ADMIN users (at most max), oldest first, in
 * an array allocated from a: whom staff events go to. */
int users_staff_ids(struct db_conn *c, struct arena *a, int max, const char ***ids, int *n,
                    struct souk_errinfo *ei);

/* Registers the users part of the export and the erasure (userdata.h). */
void users_init(void);

/* {id, email, first_name, last_name, role, date_joined} (+ is_active when
 * with_admin). New reference. */
json_t *users_to_json(const struct user *u, int with_admin);

#endif
