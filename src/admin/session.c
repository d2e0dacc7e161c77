/* session.c - admin console sessions (session.h), table admin_sessions.
 *
 * Serves API.md § "Admin console" (cookie, 12 h, ends on role/activity
 * change). No process state: every node reads the same rows.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "admin/session.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"

#define HASH_HEX (crypto_hash_sha256_BYTES * 2 + 1)

void admin_token_new(char out[ADMIN_TOKEN_LEN])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    b64url_encode(out, raw, sizeof raw);
}

static void token_hash(const char *token, char hex[HASH_HEX])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, HASH_HEX, h, sizeof h);
}

struct open_args {
    const struct user *u;
    const char *hash;
    struct admin_session *s;
};

static int open_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct open_args *a = arg;
    int64_t now = clock_now_us();
    int err = db_exec(c, "DELETE FROM admin_sessions WHERE expires_at < $1", DB_PARAMS(DBI(now)),
                      NULL, ei);
    if (err)
        return err;
    return db_exec(c,
                   "INSERT INTO admin_sessions (id, token_hash, user_id, role, csrf_token, "
                   "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   DB_PARAMS(DBT(a->s->id), DBT(a->hash), DBT(a->u->id),
                             DBT(auth_role_name(a->u->role)), DBT(a->s->csrf), DBI(now),
                             DBI(now + ADMIN_SESSION_TTL_US)),
                   NULL, ei);
}

int admin_session_open(struct db *db, const struct user *u, char token[ADMIN_TOKEN_LEN],
                       struct admin_session *out, struct souk_errinfo *ei)
{
    char hash[HASH_HEX];

    memset(out, 0, sizeof *out);
    admin_token_new(token);
    admin_token_new(out->csrf);
    uuid_v7(out->id);
    out->user = *u;
    token_hash(token, hash);
    return db_tx_run(db, open_fn, &(struct open_args){u, hash, out}, ei);
}

struct load_args {
    const char *hash;
    struct admin_session *s;
    int live;
};

static int load_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct load_args *a = arg;
    struct db_res *res;
    char role[16] = "";
    int err = db_query(c,
                       "SELECT id, user_id, role, csrf_token FROM admin_sessions "
                       "WHERE token_hash = $1 AND expires_at > $2",
                       DB_PARAMS(DBT(a->hash), DBI(clock_now_us())), &res, ei);
    if (err)
        return err;
    if (db_nrows(res) == 1) {
        snprintf(a->s->id, sizeof a->s->id, "%s", db_get(res, 0, 0));
        snprintf(a->s->user.id, sizeof a->s->user.id, "%s", db_get(res, 0, 1));
        snprintf(role, sizeof role, "%s", db_get(res, 0, 2));
        snprintf(a->s->csrf, sizeof a->s->csrf, "%s", db_get(res, 0, 3));
    }
    db_res_free(res);
    if (!a->s->id[0])
        return SOUK_OK;
    err = users_get(c, a->s->user.id, &a->s->user, ei);
    if (err && err != SOUK_NOT_FOUND)
        return err;
    a->live = !err && a->s->user.is_active && (int)auth_role_parse(role) == a->s->user.role &&
              a->s->user.role >= AUTH_ROLE_MODERATOR;
    if (a->live)
        return SOUK_OK;
    souk_errinfo_cleanup(ei);
    return db_exec(c, "DELETE FROM admin_sessions WHERE id = $1", DB_PARAMS(DBT(a->s->id)),
                   NULL, ei);
}

int admin_session_load(struct db *db, const char *token, struct admin_session *out,
                       struct souk_errinfo *ei)
{
    char hash[HASH_HEX];
    struct load_args a = {hash, out, 0};
    int err;

    memset(out, 0, sizeof *out);
    if (!token || strlen(token) != ADMIN_TOKEN_LEN - 1)
        return souk_fail(ei, SOUK_NOT_FOUND, "no session");
    token_hash(token, hash);
    if ((err = db_tx_run(db, load_fn, &a, ei)))
        return err;
    return a.live ? SOUK_OK : souk_fail(ei, SOUK_NOT_FOUND, "no session");
}

static int close_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    return db_exec(c, "DELETE FROM admin_sessions WHERE token_hash = $1",
                   DB_PARAMS(DBT((const char *)arg)), NULL, ei);
}

int admin_session_close(struct db *db, const char *token, struct souk_errinfo *ei)
{
    char hash[HASH_HEX];
    if (!token)
        return SOUK_OK;
    token_hash(token, hash);
    return db_tx_run(db, close_fn, hash, ei);
}
