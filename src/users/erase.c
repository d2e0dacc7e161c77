/* erase.c - the users module's part of the export and the erasure
 * (userdata.h): the password check, the user record, and the tombstone that
 * stays for the records tied to the user id (payments, orders, reports,
 * audit entries). API.md § Listings, messaging and moderation, "Erasure".
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "core/clock.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "userdata/userdata.h"
#include "users/users.h"

struct hash_row {
    const char *user_id;
    char hash[PASSWORD_HASH_MAX];
    int found;
};

static int hash_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct hash_row *h = arg;
    struct db_res *r;
    int err = db_query(c, "SELECT password_hash FROM users WHERE id = $1 AND erased_at IS NULL",
                       DB_PARAMS(DBT(h->user_id)), &r, ei);

    if (err)
        return err;
    if ((h->found = db_nrows(r) == 1))
        snprintf(h->hash, sizeof h->hash, "%s", db_get(r, 0, 0));
    db_res_free(r);
    return SOUK_OK;
}

static int authenticate(struct db *db, const char *user_id, const char *password,
                        struct souk_errinfo *ei)
{
    struct hash_row h = {user_id, "", 0};
    int rehash, err = db_run(db, hash_fn, &h, ei);

    if (err)
        return err;
    if (!h.found)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such user.");
    if (!password_verify(h.hash, password, &rehash)) {
        souk_errinfo_field(ei, "password", "The password is not correct.");
        return souk_fail(ei, SOUK_INVALID, "The password is not correct.");
    }
    return SOUK_OK;
}

static int export_user(struct db_conn *c, const struct userdata_who *w, json_t **out,
                       struct souk_errinfo *ei)
{
    struct user u;
    int err = users_get(c, w->user_id, &u, ei);

    if (!err)
        *out = users_to_json(&u, 1);
    return err;
}

/* The tombstone: no email, no names, no password, inactive; every token ends. */
static int erase_user(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    char email[64];
    int64_t now = clock_now_us();
    int err;

    if ((err = jobs_forget_tx(c, w->email, ei)))
        return err;
    snprintf(email, sizeof email, "erased-%s@invalid", w->user_id);
    err = db_exec(c,
                  "UPDATE users SET email = $2, first_name = 'Deleted', last_name = 'user', "
                  "password_hash = '', is_active = $3, erased_at = $4, updated_at = $4 "
                  "WHERE id = $1",
                  DB_PARAMS(DBT(w->user_id), DBT(email), DBB(0), DBI(now)), NULL, ei);
    /* access tokens end at once; refresh tokens of an inactive user are refused */
    return err ? err : auth_revoke_user_tx(c, w->user_id, ei);
}

static int email_of(struct db_conn *c, const char *user_id, char email[256],
                    struct souk_errinfo *ei)
{
    struct user u;
    int err = users_get(c, user_id, &u, ei);

    if (!err)
        snprintf(email, 256, "%s", u.email);
    return err;
}

static const struct userdata_part part = {
    .key = "user", .export_fn = export_user, .erase = erase_user, .order = 1000};

/* auth's view of an account when it renews tokens. */
static int account_state(struct db_conn *c, const char *user_id, int *role, int *is_active,
                         struct souk_errinfo *ei)
{
    struct user u;
    int err = users_get(c, user_id, &u, ei);

    if (!err) {
        *role = u.role;
        *is_active = u.is_active;
    }
    return err;
}

void users_init(void)
{
    auth_set_account_lookup(account_state);
    userdata_set_authenticator(authenticate);
    userdata_set_email_lookup(email_of);
    userdata_register(&part);
}
