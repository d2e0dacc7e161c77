/* auth.c - bearer tokens: the request hook, issuing and rotating tokens,
 * revocation and the per-node revocation cache (see auth.h).
 *
 * The hot path (auth_hook) costs no query: a JWT verification (one
 * HMAC-SHA-256) and two lookups in the in-process denylist. Revocations are
 * rows in auth_revocations; a background poller thread reads the rows
 * created in the last AUTH_POLL_OVERLAP_US every AUTH_POLL_MS and adds them
 * to the cache (the overlap covers transactions that commit out of order
 * and small clock differences between nodes; adding twice is harmless).
 * The node that revokes also adds the entry itself right after COMMIT, so
 * on that node a logout or deactivation takes effect at once; on other
 * nodes within about a second. When souk_cfg->redis_url is set, a logout
 * also writes souk:deny:<jti> to Redis (redis_deny.c) for tools and
 * gateways that share it.
 *
 * Thread safety: auth_hook and the *_tx functions may run on any worker;
 * init/shutdown are called once from the main thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/auth.h"
#include "auth/denylist.h"
#include "auth/jwt.h"
#include "auth/redis_deny.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/uuid.h"
#include "db/db.h"
#include "http/http.h"

#define AUTH_POLL_MS 500                       /* well under the promised ~1 s */
#define AUTH_POLL_OVERLAP_US (10LL * 1000000)  /* re-read the last 10 s each time */
#define AUTH_PURGE_EVERY 120                   /* polls between purges (~1 min) */

/* ---- roles ----------------------------------------------------------------- */

static const char *const role_names[] = {"", "CUSTOMER", "VENDOR", "MODERATOR", "ADMIN"};

enum auth_role auth_role_parse(const char *s)
{
    for (int i = AUTH_ROLE_CUSTOMER; s && i <= AUTH_ROLE_ADMIN; i++)
        if (strcmp(s, role_names[i]) == 0)
            return (enum auth_role)i;
    return AUTH_ROLE_NONE;
}

const char *auth_role_name(int role)
{
    return role >= AUTH_ROLE_CUSTOMER && role <= AUTH_ROLE_ADMIN ? role_names[role] : "";
}

/* ---- keys and clocks ---------------------------------------------------------- */

static const char *secret(size_t *len)
{
    const char *k = souk_cfg ? souk_cfg->secret_key : "";

    *len = strlen(k);
    return k;
}

static int64_t now_s(void)
{
    return clock_now_us() / 1000000;
}

static int access_ttl(void)
{
    return souk_cfg && souk_cfg->access_token_ttl > 0 ? souk_cfg->access_token_ttl : 3600;
}

static int refresh_ttl(void)
{
    return souk_cfg && souk_cfg->refresh_token_ttl > 0 ? souk_cfg->refresh_token_ttl
                                                       : 14 * 86400;
}

/* When a token was issued, in ms: the timestamp of its UUIDv7 jti (every
 * token souk issues has one), else iat. */
static int64_t issued_ms(const struct jwt_claims *cl)
{
    int64_t ms = 0;

    if (!uuid_valid(cl->jti) || cl->jti[14] != '7')
        return cl->iat * 1000;
    for (int i = 0; i < 13; i++) {
        char ch = cl->jti[i];
        if (ch == '-')
            continue;
        ms = ms * 16 + (ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
    }
    return ms;
}

/* ---- the hook ------------------------------------------------------------------- */

static int revoked(const struct jwt_claims *cl)
{
    int64_t cutoff;

    if (denylist_has_jti(cl->jti))
        return 1;
    cutoff = denylist_user_cutoff(cl->sub);
    return cutoff && issued_ms(cl) <= cutoff;
}

int auth_hook(struct http_req *req, const char *token)
{
    struct jwt_claims cl;
    struct auth_user *u;
    enum jwt_result r;
    size_t keylen;
    const char *key = secret(&keylen);
    int role;

    r = jwt_verify(token, strlen(token), key, keylen, now_s(), AUTH_LEEWAY_SECONDS, &cl);
    role = r == JWT_OK ? (int)auth_role_parse(cl.role) : 0;
    if (r != JWT_OK || !role || !uuid_valid(cl.sub) || revoked(&cl)) {
        req->user = NULL;
        req->auth_err = SOUK_TOKEN_INVALID;
        return SOUK_TOKEN_INVALID;
    }
    u = arena_calloc(req->arena, 1, sizeof *u);
    uuid_normalize(cl.sub, u->id);
    u->role = role;
    snprintf(u->jti, sizeof u->jti, "%s", cl.jti);
    u->token_exp = cl.exp;
    req->user = u;
    req->auth_err = 0;
    return SOUK_OK;
}

/* ---- revocations: rows, cache, poller ------------------------------------------ */

struct revocation {
    char kind[8]; /* "jti" | "user" */
    char subject[JWT_CLAIM_MAX];
    int64_t cutoff_ms;
    int64_t expires_us;
};

static void revocation_apply(const struct revocation *rv)
{
    if (strcmp(rv->kind, "user") == 0)
        denylist_add_user(rv->subject, rv->cutoff_ms, rv->expires_us);
    else
        denylist_add_jti(rv->subject, rv->expires_us);
}

/* After COMMIT: this node knows at once; Redis hears of logouts. */
static void revocation_committed(void *arg)
{
    const struct revocation *rv = arg;
    int64_t ttl = (rv->expires_us - clock_now_us()) / 1000000 + 1;

    revocation_apply(rv);
    if (strcmp(rv->kind, "jti") == 0 && souk_cfg && souk_cfg->redis_url[0])
        redis_deny_set(souk_cfg->redis_url, rv->subject, ttl);
}

static int revocation_insert(struct db_conn *c, const struct revocation *rv,
                             struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];
    struct revocation *copy;
    int err;

    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO auth_revocations (id, kind, subject, cutoff_ms, expires_at, "
                  "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                  DB_PARAMS(DBT(id), DBT(rv->kind), DBT(rv->subject), DBI(rv->cutoff_ms),
                            DBI(rv->expires_us), DBI(clock_now_us())),
                  NULL, ei);
    if (err)
        return err;
    copy = xmalloc(sizeof *copy);
    *copy = *rv;
    db_after_commit(c, revocation_committed, copy, free);
    return SOUK_OK;
}

struct poll_arg {
    int64_t since_us;
    int purge;
};

static int poll_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct poll_arg *pa = arg;
    int64_t now = clock_now_us();
    struct db_res *res;
    int err;

    if (pa->purge &&
        (err = db_exec(c, "DELETE FROM auth_revocations WHERE expires_at < $1",
                       DB_PARAMS(DBI(now)), NULL, ei)))
        return err;
    err = db_query(c,
                   "SELECT kind, subject, cutoff_ms, expires_at FROM auth_revocations "
                   "WHERE created_at >= $1 AND expires_at >= $2",
                   DB_PARAMS(DBI(pa->since_us), DBI(now)), &res, ei);
    if (err)
        return err;
    for (int i = 0; i < db_nrows(res); i++) {
        struct revocation rv = {.cutoff_ms = db_int(res, i, 2), .expires_us = db_int(res, i, 3)};
        snprintf(rv.kind, sizeof rv.kind, "%s", db_get(res, i, 0));
        snprintf(rv.subject, sizeof rv.subject, "%s", db_get(res, i, 1));
        revocation_apply(&rv);
    }
    db_res_free(res);
    return SOUK_OK;
}

static struct {
    struct db *db;
    pthread_t thread;
    int started;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} poller = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One poll: 0 ok. since_us is advanced only when it succeeded. */
static int poll_once(int64_t *since_us, int purge)
{
    struct souk_errinfo ei = {0};
    struct poll_arg pa = {*since_us, purge};
    int64_t started = clock_now_us();
    int err = db_run(poller.db, poll_fn, &pa, &ei);

    if (err)
        log_warn("auth: revocation poll failed: %s", ei.detail);
    else
        *since_us = started - AUTH_POLL_OVERLAP_US;
    if (purge)
        denylist_purge(started);
    souk_errinfo_cleanup(&ei);
    return err;
}

static void *poller_main(void *arg)
{
    int64_t since = *(int64_t *)arg;
    struct timespec ts;
    unsigned long n = 0;

    free(arg);
    pthread_mutex_lock(&poller.mu);
    while (!poller.stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += AUTH_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&poller.cv, &poller.mu, &ts);
        if (poller.stop)
            break;
        pthread_mutex_unlock(&poller.mu);
        poll_once(&since, ++n % AUTH_PURGE_EVERY == 0);
        pthread_mutex_lock(&poller.mu);
    }
    pthread_mutex_unlock(&poller.mu);
    return NULL;
}

int auth_init(struct db *db, struct souk_errinfo *ei)
{
    int64_t since = 0, *arg;

    if (sodium_init() < 0)
        return souk_fail(ei, SOUK_INTERNAL, "libsodium failed to initialise");
    denylist_init();
    poller.db = db;
    poller.stop = 0;
    if (db && poll_once(&since, 1)) /* everything still in force, before serving */
        return souk_fail(ei, SOUK_INTERNAL, "cannot load token revocations");
    http_set_auth_hook(auth_hook);
    if (!db)
        return SOUK_OK;
    pthread_cond_init(&poller.cv, NULL);
    arg = xmalloc(sizeof *arg);
    *arg = since;
    if (pthread_create(&poller.thread, NULL, poller_main, arg)) {
        free(arg);
        pthread_cond_destroy(&poller.cv);
        return souk_fail(ei, SOUK_INTERNAL, "cannot start the revocation poller");
    }
    poller.started = 1;
    return SOUK_OK;
}

void auth_shutdown(void)
{
    if (poller.started) {
        pthread_mutex_lock(&poller.mu);
        poller.stop = 1;
        pthread_cond_signal(&poller.cv);
        pthread_mutex_unlock(&poller.mu);
        pthread_join(poller.thread, NULL);
        pthread_cond_destroy(&poller.cv);
        poller.started = 0;
    }
    denylist_cleanup();
}

/* ---- issuing tokens -------------------------------------------------------------- */

static int sign_access(const char *user_id, int role, char out[AUTH_ACCESS_MAX],
                       struct souk_errinfo *ei)
{
    struct jwt_claims cl = {0};
    size_t keylen;
    const char *key = secret(&keylen);

    snprintf(cl.sub, sizeof cl.sub, "%s", user_id);
    snprintf(cl.role, sizeof cl.role, "%s", auth_role_name(role));
    uuid_v7(cl.jti);
    cl.iat = now_s();
    cl.exp = cl.iat + access_ttl();
    if (!jwt_sign(&cl, key, keylen, out, AUTH_ACCESS_MAX))
        return souk_fail(ei, SOUK_INTERNAL, "cannot sign an access token");
    return SOUK_OK;
}

/* SHA-256 of a refresh token, as hex. */
static void refresh_hash(const char *token, char hex[crypto_hash_sha256_BYTES * 2 + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, crypto_hash_sha256_BYTES * 2 + 1, h, sizeof h);
}

/* Makes a new refresh token of `family` for the user and stores its hash. */
static int refresh_insert(struct db_conn *c, const char *user_id, const char *family,
                          char out[AUTH_REFRESH_LEN], struct souk_errinfo *ei)
{
    unsigned char raw[32];
    char id[UUID_STR_LEN], hex[crypto_hash_sha256_BYTES * 2 + 1];
    int64_t now = clock_now_us();

    randombytes_buf(raw, sizeof raw);
    b64url_encode(out, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    refresh_hash(out, hex);
    uuid_v7(id);
    return db_exec(c,
                   "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, "
                   "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                   DB_PARAMS(DBT(id), DBT(user_id), DBT(family), DBT(hex), DBI(now),
                             DBI(now + (int64_t)refresh_ttl() * 1000000)),
                   NULL, ei);
}

int auth_issue_tx(struct db_conn *c, const char *user_id, int role, struct auth_tokens *out,
                  struct souk_errinfo *ei)
{
    char family[UUID_STR_LEN];
    int err;

    uuid_v7(family);
    if ((err = refresh_insert(c, user_id, family, out->refresh, ei)))
        return err;
    return sign_access(user_id, role, out->access, ei);
}

/* ---- rotating and revoking --------------------------------------------------------- */

static int family_revoke(struct db_conn *c, const char *family, struct souk_errinfo *ei)
{
    return db_exec(c,
                   "UPDATE refresh_tokens SET revoked_at = $2 "
                   "WHERE family_id = $1 AND revoked_at IS NULL",
                   DB_PARAMS(DBT(family), DBI(clock_now_us())), NULL, ei);
}

struct refresh_row {
    char id[UUID_STR_LEN];
    char user_id[UUID_STR_LEN];
    char family[UUID_STR_LEN];
    int64_t expires_at;
    int spent; /* used or revoked */
};

/* 0 and *found = 1 with the row, 0 and *found = 0 when unknown. */
static int refresh_find(struct db_conn *c, const char *token, struct refresh_row *row,
                        int *found, struct souk_errinfo *ei)
{
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    struct db_res *res;
    int err;

    refresh_hash(token, hex);
    err = db_query(c,
                   "SELECT id, user_id, family_id, expires_at, "
                   "used_at IS NOT NULL OR revoked_at IS NOT NULL "
                   "FROM refresh_tokens WHERE token_hash = $1",
                   DB_PARAMS(DBT(hex)), &res, ei);
    if (err)
        return err;
    *found = db_nrows(res) == 1;
    if (*found) {
        snprintf(row->id, sizeof row->id, "%s", db_get(res, 0, 0));
        snprintf(row->user_id, sizeof row->user_id, "%s", db_get(res, 0, 1));
        snprintf(row->family, sizeof row->family, "%s", db_get(res, 0, 2));
        row->expires_at = db_int(res, 0, 3);
        row->spent = db_bool(res, 0, 4);
    }
    db_res_free(res);
    return SOUK_OK;
}

/* Marks the token used, unless someone else did first: *won = 0 then. */
static int refresh_consume(struct db_conn *c, const char *id, int *won, struct souk_errinfo *ei)
{
    int64_t changed = 0;
    int err = db_exec(c,
                      "UPDATE refresh_tokens SET used_at = $2 "
                      "WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
                      DB_PARAMS(DBT(id), DBI(clock_now_us())), &changed, ei);

    *won = changed == 1;
    return err;
}

static _Atomic(auth_account_fn) account_lookup;

void auth_set_account_lookup(auth_account_fn fn)
{
    atomic_store(&account_lookup, fn);
}

static int account_of(struct db_conn *c, const char *user_id, int *role, int *is_active,
                      struct souk_errinfo *ei)
{
    auth_account_fn fn = atomic_load(&account_lookup);
    if (!fn) /* a wiring fault: refuse, but revoke nothing */
        return souk_fail(ei, SOUK_INTERNAL, "auth: no account lookup (users_init not called)");
    return fn(c, user_id, role, is_active, ei);
}

static int refresh_in_tx(struct db_conn *c, const char *refresh, struct auth_tokens *out,
                         enum auth_refresh_outcome *outcome, struct souk_errinfo *ei)
{
    struct refresh_row row;
    int err, found, won, role = 0, active = 0;

    *outcome = AUTH_REFRESH_UNKNOWN;
    if ((err = refresh_find(c, refresh, &row, &found, ei)) || !found)
        return err;
    if (!row.spent && row.expires_at <= clock_now_us())
        return SOUK_OK;
    if (!row.spent && (err = refresh_consume(c, row.id, &won, ei)))
        return err;
    if (row.spent || !won) { /* replayed: whoever holds this family is suspect */
        *outcome = AUTH_REFRESH_REUSED;
        return family_revoke(c, row.family, ei);
    }
    err = account_of(c, row.user_id, &role, &active, ei);
    if (err == SOUK_NOT_FOUND || (!err && !active)) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        *outcome = AUTH_REFRESH_INACTIVE;
        return family_revoke(c, row.family, ei);
    }
    if (err || (err = refresh_insert(c, row.user_id, row.family, out->refresh, ei)) ||
        (err = sign_access(row.user_id, role, out->access, ei)))
        return err;
    *outcome = AUTH_REFRESH_OK;
    return SOUK_OK;
}

static int logout_in_tx(struct db_conn *c, const struct auth_user *u, const char *refresh,
                        struct souk_errinfo *ei)
{
    struct revocation rv = {.kind = "jti"};
    struct refresh_row row;
    int err, found = 0;

    if (refresh && (err = refresh_find(c, refresh, &row, &found, ei)))
        return err;
    if (found && strcmp(row.user_id, u->id) == 0 && (err = family_revoke(c, row.family, ei)))
        return err;
    snprintf(rv.subject, sizeof rv.subject, "%s", u->jti);
    rv.expires_us = (u->token_exp + AUTH_LEEWAY_SECONDS + 1) * 1000000;
    return revocation_insert(c, &rv, ei);
}

struct refresh_args {
    const char *refresh;
    struct auth_tokens *out;
    enum auth_refresh_outcome *outcome;
};

static int refresh_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct refresh_args *a = arg;
    return refresh_in_tx(c, a->refresh, a->out, a->outcome, ei);
}

int auth_refresh(struct db *db, const char *refresh, struct auth_tokens *out,
                 enum auth_refresh_outcome *outcome, struct souk_errinfo *ei)
{
    struct refresh_args a = {refresh, out, outcome};
    *outcome = AUTH_REFRESH_UNKNOWN;
    return db_tx_run(db, refresh_tx, &a, ei);
}

struct logout_args {
    const struct auth_user *u;
    const char *refresh;
};

static int logout_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct logout_args *a = arg;
    return logout_in_tx(c, a->u, a->refresh, ei);
}

int auth_logout(struct db *db, const struct auth_user *u, const char *refresh,
                struct souk_errinfo *ei)
{
    struct logout_args a = {u, refresh};
    return db_tx_run(db, logout_tx, &a, ei);
}

int auth_revoke_user_tx(struct db_conn *c, const char *user_id, struct souk_errinfo *ei)
{
    struct revocation rv = {.kind = "user"};
    int64_t now = clock_now_us();
    int err;

    err = db_exec(c,
                  "UPDATE refresh_tokens SET revoked_at = $2 "
                  "WHERE user_id = $1 AND revoked_at IS NULL",
                  DB_PARAMS(DBT(user_id), DBI(now)), NULL, ei);
    if (err)
        return err;
    snprintf(rv.subject, sizeof rv.subject, "%s", user_id);
    rv.cutoff_ms = now / 1000;
    rv.expires_us = now + ((int64_t)access_ttl() + AUTH_LEEWAY_SECONDS + 1) * 1000000;
    return revocation_insert(c, &rv, ei);
}
