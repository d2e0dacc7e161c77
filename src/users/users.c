/* users.c - the users table and the rules about people (see users.h).
 *
 * Slow work (Argon2id, ~65 ms) happens outside transactions so that no
 * database connection waits on it. Login answers the same 401 for an
 * unknown email, a wrong password and a deactivated account, and spends the
 * same time on each (a dummy verification when there is no user).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "core/ratelimit.h"
#include "db/keyset.h"
#include "users/users.h"

#define USER_COLS "id, email, first_name, last_name, role, is_active, joined_at"

/* ---- emails ------------------------------------------------------------------ */

int users_email_normalize(const char *in, char out[USER_EMAIL_MAX + 1])
{
    const char *s = in, *e, *at;
    size_t n;

    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    n = (size_t)(e - s);
    at = memchr(s, '@', n);
    if (n == 0 || n > USER_EMAIL_MAX || !at || at == s || at == e - 1 ||
        memchr(at + 1, '@', (size_t)(e - at - 1)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch == 0x7f || ch == ',' || ch == '<' || ch == '>')
            return -1;
        out[i] = s + i > at ? (char)tolower(ch) : (char)ch;
    }
    out[n] = '\0';
    return 0;
}

int users_new_check(const struct user_new *in, char email[USER_EMAIL_MAX + 1],
                    struct souk_errinfo *ei)
{
    const char *pw_problem = password_policy_check(in->password);
    int bad = 0;

    if (users_email_normalize(in->email, email)) {
        souk_errinfo_field(ei, "email", "Enter a valid email address.");
        bad = 1;
    }
    if (pw_problem) {
        souk_errinfo_field(ei, "password", pw_problem);
        bad = 1;
    }
    if (in->role == AUTH_ROLE_NONE) {
        souk_errinfo_field(ei, "role", "Not a valid role.");
        bad = 1;
    }
    return bad ? souk_fail(ei, SOUK_INVALID, "Invalid input.") : SOUK_OK;
}

/* ---- rows ------------------------------------------------------------------------ */

static void row_to_user(const struct db_res *r, int i, struct user *u)
{
    snprintf(u->id, sizeof u->id, "%s", db_get(r, i, 0));
    snprintf(u->email, sizeof u->email, "%s", db_get(r, i, 1));
    snprintf(u->first_name, sizeof u->first_name, "%s", db_get(r, i, 2));
    snprintf(u->last_name, sizeof u->last_name, "%s", db_get(r, i, 3));
    u->role = auth_role_parse(db_get(r, i, 4));
    u->is_active = db_bool(r, i, 5);
    u->joined_at = db_int(r, i, 6);
}

json_t *users_to_json(const struct user *u, int with_admin)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", u->id, "email", u->email,
                          "first_name", u->first_name, "last_name", u->last_name, "role",
                          auth_role_name(u->role), "date_joined", json_time(u->joined_at));

    if (with_admin)
        json_object_set_new(j, "is_active", json_boolean(u->is_active));
    return j;
}

int users_get(struct db_conn *c, const char *id, struct user *out, struct souk_errinfo *ei)
{
    struct db_res *res;
    int err = db_query(c, "SELECT " USER_COLS " FROM users WHERE id = $1", DB_PARAMS(DBT(id)),
                       &res, ei);

    if (err)
        return err;
    if (db_nrows(res) == 1)
        row_to_user(res, 0, out);
    else
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such user.");
    db_res_free(res);
    return err;
}

struct get_one_args {
    const char *id;
    struct user *out;
};

static int get_one_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_one_args *a = arg;
    return users_get(c, a->id, a->out, ei);
}

int users_get_one(struct db *db, const char *id, struct user *out, struct souk_errinfo *ei)
{
    struct get_one_args a = {id, out};
    return db_run(db, get_one_fn, &a, ei);
}

/* ---- creating ---------------------------------------------------------------------- */

int users_insert_tx(struct db_conn *c, const struct user_new *in, const char *email,
                    const char *password_hash, struct user *out, struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    int err;

    memset(out, 0, sizeof *out);
    uuid_v7(out->id);
    err = db_exec(c,
                  "INSERT INTO users (id, email, password_hash, first_name, last_name, role, "
                  "is_active, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                  DB_PARAMS(DBT(out->id), DBT(email), DBT(password_hash),
                            DBT(in->first_name ? in->first_name : ""),
                            DBT(in->last_name ? in->last_name : ""),
                            DBT(auth_role_name(in->role)), DBB(1), DBI(now)),
                  NULL, ei);
    if (err == SOUK_CONFLICT) {
        souk_errinfo_field(ei, "email", "A user with this email already exists.");
        return souk_fail(ei, SOUK_CONFLICT, "A user with this email already exists.");
    }
    if (err)
        return err;
    return users_get(c, out->id, out, ei);
}

struct insert_args {
    const struct user_new *in;
    const char *email;
    const char *hash;
    struct user *out;
};

static int insert_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct insert_args *a = arg;

    return users_insert_tx(c, a->in, a->email, a->hash, a->out, ei);
}

int users_register(struct db *db, const struct user_new *in, struct user *out,
                   struct souk_errinfo *ei)
{
    char email[USER_EMAIL_MAX + 1], hash[PASSWORD_HASH_MAX];
    int err;

    if ((err = users_new_check(in, email, ei)) || (err = password_hash(in->password, hash, ei)))
        return err;
    return db_tx_run(db, insert_fn, &(struct insert_args){in, email, hash, out}, ei);
}

int users_create(struct db *db, const char *email, const char *password, const char *role,
                 const char *first_name, const char *last_name, char out_id[37],
                 struct souk_errinfo *ei)
{
    struct user_new in = {email, password, first_name, last_name, auth_role_parse(role)};
    struct user u;
    int err = users_register(db, &in, &u, ei);

    if (!err)
        memcpy(out_id, u.id, sizeof u.id);
    return err;
}

/* ---- login -------------------------------------------------------------------------- */

struct login_row {
    const char *email;
    struct user *u;
    char hash[PASSWORD_HASH_MAX];
    int found;
};

static int login_find_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct login_row *lr = arg;
    struct db_res *res;
    int err = db_query(c, "SELECT " USER_COLS ", password_hash FROM users WHERE email = $1",
                       DB_PARAMS(DBT(lr->email)), &res, ei);

    if (err)
        return err;
    lr->found = db_nrows(res) == 1;
    if (lr->found) {
        row_to_user(res, 0, lr->u);
        snprintf(lr->hash, sizeof lr->hash, "%s", db_get(res, 0, 7));
    }
    db_res_free(res);
    return SOUK_OK;
}

struct login_finish {
    const struct user *u;
    const char *new_hash; /* NULL: keep */
    struct auth_tokens *t;
};

static int login_finish_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct login_finish *lf = arg;
    int err;

    if (lf->new_hash &&
        (err = db_exec(c, "UPDATE users SET password_hash = $2 WHERE id = $1",
                       DB_PARAMS(DBT(lf->u->id), DBT(lf->new_hash)), NULL, ei)))
        return err;
    return auth_issue_tx(c, lf->u->id, lf->u->role, lf->t, ei);
}

static void throttle_key(char *key, size_t len, const char *ip, const char *email)
{
    snprintf(key, len, "login:%s:%s", ip ? ip : "-", email);
}

static int throttled(const char *key, struct souk_errinfo *ei)
{
    int ttl = 0, max = souk_cfg ? souk_cfg->login_max_failures : 10;

    if (max > 0 && ratelimit_count(key, &ttl) >= max) {
        ei->retry_after = ttl > 0 ? ttl : 1;
        return souk_fail(ei, SOUK_RATE_LIMITED, "Too many failed logins; try again later.");
    }
    return SOUK_OK;
}

static int login_failed(const char *key, struct souk_errinfo *ei)
{
    int ttl;

    ratelimit_hit(key, souk_cfg ? souk_cfg->login_window : 900, &ttl);
    return souk_fail(ei, SOUK_UNAUTHENTICATED, "No active account found with the given credentials.");
}

int users_authenticate(struct db *db, const char *client_ip, const char *email,
                       const char *password, struct user *u, char new_hash[PASSWORD_HASH_MAX],
                       struct souk_errinfo *ei)
{
    char norm[USER_EMAIL_MAX + 1], key[USER_EMAIL_MAX + 128];
    struct login_row lr = {.email = norm, .u = u};
    int err, rehash = 0;

    new_hash[0] = 0;
    if (users_email_normalize(email, norm))
        snprintf(norm, sizeof norm, "%.*s", USER_EMAIL_MAX, email);
    throttle_key(key, sizeof key, client_ip, norm);
    if ((err = throttled(key, ei)) || (err = db_run(db, login_find_fn, &lr, ei)))
        return err;
    if (!lr.found) {
        password_verify_dummy(password);
        return login_failed(key, ei);
    }
    if (!password_verify(lr.hash, password, &rehash) || !u->is_active)
        return login_failed(key, ei);
    ratelimit_reset(key);
    if (rehash && password_hash(password, new_hash, NULL))
        new_hash[0] = 0; /* keep the old hash; it still verifies */
    return SOUK_OK;
}

int users_login(struct db *db, const char *client_ip, const char *email, const char *password,
                struct user *u, struct auth_tokens *t, struct souk_errinfo *ei)
{
    char fresh[PASSWORD_HASH_MAX];
    int err = users_authenticate(db, client_ip, email, password, u, fresh, ei);

    if (err)
        return err;
    return db_tx_run(db, login_finish_fn,
                     &(struct login_finish){u, fresh[0] ? fresh : NULL, t}, ei);
}

/* ---- changing -------------------------------------------------------------------------- */

struct names_args {
    const char *id, *first, *last;
    struct user *out;
};

static int names_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct names_args *a = arg;
    int64_t changed = 0;
    int err = db_exec(c,
                      "UPDATE users SET first_name = COALESCE($2, first_name), "
                      "last_name = COALESCE($3, last_name), updated_at = $4 WHERE id = $1",
                      DB_PARAMS(DBT(a->id), DBT(a->first), DBT(a->last), DBI(clock_now_us())),
                      &changed, ei);

    if (err)
        return err;
    if (changed != 1)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such user.");
    return users_get(c, a->id, a->out, ei);
}

int users_update_names(struct db *db, const char *id, const char *first_name,
                       const char *last_name, struct user *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, names_fn, &(struct names_args){id, first_name, last_name, out}, ei);
}

struct admin_args {
    const struct audit_actor *actor;
    const char *id;
    int role, is_active;
    struct user *out;
};

/* The changed fields of an admin update, before or after, for the audit trail. */
static json_t *admin_changes(const struct user *u, int role_changed, int active_changed)
{
    json_t *j = json_object();
    if (role_changed)
        json_object_set_new(j, "role", json_string(auth_role_name(u->role)));
    if (active_changed)
        json_object_set_new(j, "is_active", json_boolean(u->is_active));
    return j;
}

static int admin_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct admin_args *a = arg;
    struct user before = {0};
    int err, role, active;

    if ((err = users_get(c, a->id, &before, ei)))
        return err;
    role = a->role ? a->role : before.role;
    active = a->is_active >= 0 ? a->is_active : before.is_active;
    err = db_exec(c, "UPDATE users SET role = $2, is_active = $3, updated_at = $4 WHERE id = $1",
                  DB_PARAMS(DBT(a->id), DBT(auth_role_name(role)), DBB(active),
                            DBI(clock_now_us())),
                  NULL, ei);
    /* tokens carry the role: a change of role or a deactivation ends them */
    if (!err && (role != before.role || (!active && before.is_active)))
        err = auth_revoke_user_tx(c, a->id, ei);
    if (err || (err = users_get(c, a->id, a->out, ei)))
        return err;
    int rc = role != before.role, ac = active != before.is_active;
    json_t *b = admin_changes(&before, rc, ac), *af = admin_changes(a->out, rc, ac);
    err = audit_record(c, a->actor, "user.update", "user", a->id, b, af, NULL, ei);
    json_decref(b), json_decref(af);
    return err;
}

int users_admin_update(struct db *db, const struct audit_actor *actor, const char *id, int role,
                       int is_active, struct user *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, admin_fn, &(struct admin_args){actor, id, role, is_active, out}, ei);
}

/* ---- listing ------------------------------------------------------------------------------ */

struct list_args {
    const struct user_filter *f;
    const struct keyset *ks;
    struct arena *a;
    struct user **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    char where[128], order[128], *sql;
    struct db_res *res;
    int err;

    sql = arena_sprintf(la->a,
                        "SELECT " USER_COLS " FROM users WHERE ($1 = '' OR role = $1) "
                        "AND ($2 = '' OR email = $2)%s%s",
                        keyset_where(la->ks, "joined_at", "id", 3, where, sizeof where),
                        keyset_order(la->ks, "joined_at", "id", order, sizeof order));
    struct db_param p[] = {DBT(auth_role_name(la->f->role)),
                           DBT(la->f->email ? la->f->email : ""), DBI(la->ks->k),
                           DBT(la->ks->id)};
    /* PostgreSQL refuses parameters the statement does not use */
    err = db_query(c, sql, p, la->ks->has_cursor ? 4 : 2, &res, ei);
    if (err)
        return err;
    *la->n = db_nrows(res);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++)
        row_to_user(res, i, &(*la->out)[i]);
    db_res_free(res);
    return SOUK_OK;
}

int users_list(struct db *db, const struct user_filter *f, const struct keyset *ks,
               struct arena *a, struct user **out, int *n, struct souk_errinfo *ei)
{
    return db_run(db, list_fn, &(struct list_args){f, ks, a, out, n}, ei);
}

int users_staff_ids(struct db_conn *c, struct arena *a, int max, const char ***ids, int *n,
                    struct souk_errinfo *ei)
{
    struct db_res *res;
    int err = db_query(c,
                       "SELECT id FROM users WHERE role IN ('MODERATOR', 'ADMIN') AND "
                       "is_active = $1 ORDER BY joined_at, id LIMIT $2",
                       DB_PARAMS(DBB(1), DBI(max)), &res, ei);

    if (err)
        return err;
    *n = db_nrows(res);
    *ids = arena_calloc(a, (size_t)*n + 1, sizeof **ids);
    for (int i = 0; i < *n; i++)
        (*ids)[i] = arena_strdup(a, db_get(res, i, 0));
    db_res_free(res);
    return SOUK_OK;
}
