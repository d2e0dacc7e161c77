/* userdata.h - a user's data as a whole: the export (GDPR articles 15 and
 * 20: GET /api/users/profile/export/) and the erasure (article 17:
 * DELETE /api/users/profile/), API.md § Listings, messaging and moderation.
 *
 * Every domain that keeps personal data registers a part at init (an
 * inversion, like payment purposes: this module reads nobody's tables).
 * The users module's part checks the password and writes the tombstone;
 * the vendors module tells which vendor profile belongs to the user.
 * The erasure runs in ONE transaction: every part's check (409 while the
 * user has unfinished money or auction business), then every part's erase
 * in ascending `order`, then the tombstone and an audit entry `user.erase`.
 *
 * Thread safety: parts are registered before serving, read-only afterwards.
 */
#ifndef SOUK_USERDATA_H
#define SOUK_USERDATA_H

#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct arena;

#define USERDATA_PARTS_MAX 32

struct userdata_who {
    const char *user_id;
    const char *vendor_id; /* the user's vendor profile, "" when none */
    const char *email;     /* the user's email address, as stored */
    struct arena *a;
};

struct userdata_part {
    const char *key; /* export key ("orders", ...); NULL: nothing to export */
    /* SOUK_PRECONDITION (detail says why) when the user cannot be erased now. */
    int (*check)(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei);
    /* The exported value (new reference). */
    int (*export_fn)(struct db_conn *c, const struct userdata_who *w, json_t **out,
                     struct souk_errinfo *ei);
    /* Erases or anonymises, inside the erasure transaction. */
    int (*erase)(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei);
    int order; /* erase order, ascending (users' own tombstone runs last) */
};
void userdata_register(const struct userdata_part *p);
/* Finds the user's vendor profile id (empty when none); set by vendors. */
typedef int (*userdata_vendor_fn)(struct db_conn *c, const char *user_id, char vendor_id[37],
                                  struct souk_errinfo *ei);
void userdata_set_vendor_lookup(userdata_vendor_fn fn);
/* Finds the user's email address (set by users). */
typedef int (*userdata_email_fn)(struct db_conn *c, const char *user_id, char email[256],
                                 struct souk_errinfo *ei);
void userdata_set_email_lookup(userdata_email_fn fn);
/* Checks the password the user typed before anything else, outside the
 * erasure's transaction (hashing is slow): SOUK_INVALID on `password` when
 * wrong. Set by users. */
typedef int (*userdata_auth_fn)(struct db *db, const char *user_id, const char *password,
                                struct souk_errinfo *ei);
void userdata_set_authenticator(userdata_auth_fn fn);

/* For parts' exports: runs sql and gives its rows as a JSON array of objects
 * named by the columns. types holds one letter per column: 's' text (null for
 * NULL), 'i' integer, 'f' real, 'b' boolean, 't' a time in microseconds (RFC
 * 3339; null for NULL), 'm' an amount in minor units ("12.50"; null for
 * NULL), 'j' JSON text (parsed; null when NULL or not JSON). */
struct db_param;
int userdata_rows(struct db_conn *c, const char *sql, const struct db_param *p, int np,
                  const char *types, json_t **out, struct souk_errinfo *ei);

/* The whole export document (new reference). */
int userdata_export(struct db *db, const char *user_id, json_t **out, struct souk_errinfo *ei);
/* password: the user's own, checked first (wrong: SOUK_INVALID on password). */
int userdata_erase(struct db *db, const char *user_id, const char *password,
                   struct souk_errinfo *ei);

/* GET /api/users/profile/export/, DELETE /api/users/profile/ */
struct router;
void userdata_http_register(struct router *r);

/* The tombstone's public name, shown where an erased user's records stay. */
#define USERDATA_ERASED_NAME "Deleted user"

#endif
