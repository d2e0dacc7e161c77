/* moderation.c - the kind registry, bans, reports, resolving and hiding:
 * see moderation.h. Tables owned here: reports, user_bans.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "moderation/moderation.h"
#include "notify/notify.h"
#include "userdata/userdata.h"
#include "users/users.h"

#define STAFF_NOTIFY_MAX 50

static const struct moderation_kind *kinds[MODERATION_KINDS_MAX];
static int nkinds;

void moderation_register_kind(const struct moderation_kind *k)
{
    for (int i = 0; i < nkinds; i++)
        if (!strcmp(kinds[i]->type, k->type)) {
            kinds[i] = k;
            return;
        }
    if (nkinds < MODERATION_KINDS_MAX)
        kinds[nkinds++] = k;
    else
        log_error("moderation: too many content kinds (%s)", k->type);
}

const struct moderation_kind *moderation_kind(const char *type)
{
    for (int i = 0; type && i < nkinds; i++)
        if (!strcmp(kinds[i]->type, type))
            return kinds[i];
    return NULL;
}

/* ---- the user kind (a report on a person; never hidden) ------------------- */

static int user_lookup(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                       char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct user u;
    int err;

    (void)viewer_id, (void)staff;
    *hidden = 0;
    if ((err = users_get(c, id, &u, ei)))
        return err;
    snprintf(author, 37, "%s", u.id);
    return SOUK_OK;
}

static const struct moderation_kind user_kind = {"user", user_lookup, NULL};
static void moderation_userdata_register(void);

int moderation_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db, (void)ei;
    moderation_register_kind(&user_kind);
    moderation_userdata_register();
    return SOUK_OK;
}

/* ---- bans ------------------------------------------------------------------ */

json_t *moderation_ban_json(const struct ban *b)
{
    return json_pack("{s:s, s:o, s:s}", "user_id", b->user_id, "banned_until",
                     json_time_or_null(b->banned_until, b->banned_until == 0), "reason",
                     b->reason);
}

static int ban_read(struct db_conn *c, const char *user_id, struct ban *out,
                    struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT banned_until, reason FROM user_bans WHERE user_id = $1 AND "
                       "lifted_at IS NULL AND (banned_until IS NULL OR banned_until > $2)",
                       DB_PARAMS(DBT(user_id), DBI(clock_now_us())), &r, ei);
    int found;

    if (err)
        return -1;
    found = db_nrows(r) == 1;
    if (found && out) {
        snprintf(out->user_id, sizeof out->user_id, "%s", user_id);
        out->banned_until = db_int(r, 0, 0);
        snprintf(out->reason, sizeof out->reason, "%s", db_get(r, 0, 1));
    }
    db_res_free(r);
    return found;
}

struct ban_active_args {
    const char *user_id;
    struct ban *out;
    int result;
};

static int ban_active_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct ban_active_args *a = arg;
    a->result = ban_read(c, a->user_id, a->out, ei);
    return a->result < 0 ? SOUK_INTERNAL : SOUK_OK;
}

int moderation_ban_active(struct db *db, const char *user_id, struct ban *out)
{
    struct ban_active_args a = {user_id, out, 0};
    struct souk_errinfo ei = {0};
    int err = db_run(db, ban_active_fn, &a, &ei);

    souk_errinfo_cleanup(&ei);
    return err ? -1 : a.result;
}

static json_t *ban_state(const struct ban *b, int banned)
{
    if (!banned)
        return json_pack("{s:b}", "banned", 0);
    return json_pack("{s:b, s:o}", "banned", 1, "banned_until",
                     json_time_or_null(b->banned_until, b->banned_until == 0));
}

int moderation_ban_tx(struct db_conn *c, const struct audit_actor *actor, const char *user_id,
                      int64_t until, const char *reason, struct ban *out,
                      struct souk_errinfo *ei)
{
    struct user u;
    struct ban before;
    int was, err;

    if ((err = users_get(c, user_id, &u, ei)))
        return err;
    if (u.role == AUTH_ROLE_MODERATOR || u.role == AUTH_ROLE_ADMIN)
        return souk_fail(ei, SOUK_FORBIDDEN, "Staff accounts cannot be banned.");
    if ((was = ban_read(c, user_id, &before, ei)) < 0)
        return SOUK_INTERNAL;
    err = db_exec(c,
                  "INSERT INTO user_bans (user_id, banned_until, reason, banned_by, created_at) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET "
                  "banned_until = excluded.banned_until, reason = excluded.reason, "
                  "banned_by = excluded.banned_by, created_at = excluded.created_at, "
                  "lifted_at = NULL",
                  DB_PARAMS(DBT(user_id), until ? DBI(until) : DBNULL, DBT(reason ? reason : ""),
                            DBT(actor ? actor->user_id : NULL), DBI(clock_now_us())),
                  NULL, ei);
    if (err)
        return err;
    snprintf(out->user_id, sizeof out->user_id, "%s", u.id);
    out->banned_until = until;
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    json_t *b = ban_state(&before, was), *a = ban_state(out, 1), *ev = moderation_ban_json(out);
    err = audit_record(c, actor, "user.ban", "user", u.id, b, a, reason, ei);
    if (!err)
        err = notify(c, u.id, "user.banned", ev, ei);
    json_decref(b), json_decref(a), json_decref(ev);
    return err;
}

struct ban_args {
    const struct audit_actor *actor;
    const char *user_id;
    int64_t until;
    const char *reason;
    struct ban *out;
};

static int ban_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct ban_args *a = arg;
    return moderation_ban_tx(c, a->actor, a->user_id, a->until, a->reason, a->out, ei);
}

int moderation_ban(struct db *db, const struct audit_actor *actor, const char *user_id,
                   int64_t until, const char *reason, struct ban *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, ban_fn, &(struct ban_args){actor, user_id, until, reason, out}, ei);
}

static int unban_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct ban_args *a = arg;
    struct user u;
    struct ban before;
    int was, err;

    if ((err = users_get(c, a->user_id, &u, ei)))
        return err;
    if (u.role == AUTH_ROLE_MODERATOR || u.role == AUTH_ROLE_ADMIN)
        return souk_fail(ei, SOUK_FORBIDDEN, "Staff accounts cannot be banned.");
    if ((was = ban_read(c, u.id, &before, ei)) < 0)
        return SOUK_INTERNAL;
    memset(a->out, 0, sizeof *a->out);
    snprintf(a->out->user_id, sizeof a->out->user_id, "%s", u.id);
    if (!was)
        return SOUK_OK; /* nothing to lift: same answer, no entry */
    err = db_exec(c, "UPDATE user_bans SET lifted_at = $2 WHERE user_id = $1",
                  DB_PARAMS(DBT(u.id), DBI(clock_now_us())), NULL, ei);
    json_t *b = ban_state(&before, 1), *af = ban_state(a->out, 0);
    if (!err)
        err = audit_record(c, a->actor, "user.unban", "user", u.id, b, af, NULL, ei);
    json_decref(b), json_decref(af);
    return err;
}

int moderation_unban(struct db *db, const struct audit_actor *actor, const char *user_id,
                     struct ban *out, struct souk_errinfo *ei)
{
    return db_tx_run(db, unban_fn, &(struct ban_args){actor, user_id, 0, NULL, out}, ei);
}

/* ---- reports ------------------------------------------------------------------ */

#define REPORT_COLS                                                                          \
    "id, reporter_id, target_type, target_id, reason, status, resolution_action, "          \
    "resolution_note, resolved_by, resolved_at, created_at"

static json_t *report_row_json(const struct db_res *r, int i)
{
    json_t *res = json_null();

    if (!db_isnull(r, i, 6))
        res = json_pack("{s:s, s:s, s:o, s:o}", "action", db_get(r, i, 6), "note",
                        db_get(r, i, 7) ? db_get(r, i, 7) : "", "by",
                        json_str_or_null(db_get(r, i, 8)), "at", json_time(db_int(r, i, 9)));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", db_get(r, i, 0),
                     "reporter_id", db_get(r, i, 1), "target_type", db_get(r, i, 2),
                     "target_id", db_get(r, i, 3), "reason", db_get(r, i, 4), "status",
                     db_get(r, i, 5), "resolution", res, "created_at",
                     json_time(db_int(r, i, 10)));
}

static int report_get(struct db_conn *c, const char *id, json_t **out, struct db_res **keep,
                      struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c, "SELECT " REPORT_COLS " FROM reports WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);

    if (err)
        return err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such report.");
    }
    if (out)
        *out = report_row_json(r, 0);
    if (keep)
        *keep = r;
    else
        db_res_free(r);
    return SOUK_OK;
}

/* report.created to every active staff user (the first STAFF_NOTIFY_MAX). */
static int notify_staff(struct db_conn *c, const json_t *report, struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    const char **ids;
    int n, err = users_staff_ids(c, a, STAFF_NOTIFY_MAX, &ids, &n, ei);

    for (int i = 0; !err && i < n; i++)
        err = notify(c, ids[i], "report.created", report, ei);
    arena_free(a);
    return err;
}

struct report_args {
    const char *reporter_id;
    int staff;
    const struct report_in *in;
    json_t **out;
};

static int report_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct report_args *a = arg;
    const struct moderation_kind *k = moderation_kind(a->in->target_type);
    char id[UUID_STR_LEN], author[37] = "";
    int err, hidden;

    if (!k || k->lookup(c, a->in->target_id, a->reporter_id, a->staff, author, &hidden, ei)) {
        souk_errinfo_field(ei, "target_id", "No such object.");
        return souk_fail(ei, SOUK_INVALID, "The target does not exist.");
    }
    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO reports (id, reporter_id, target_type, target_id, reason, "
                  "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                  DB_PARAMS(DBT(id), DBT(a->reporter_id), DBT(a->in->target_type),
                            DBT(a->in->target_id), DBT(a->in->reason), DBI(clock_now_us())),
                  NULL, ei);
    if (err == SOUK_CONFLICT)
        return souk_fail(ei, SOUK_CONFLICT, "You already have an open report on this target.");
    if (err || (err = report_get(c, id, a->out, NULL, ei)))
        return err;
    return notify_staff(c, *a->out, ei);
}

int moderation_report(struct db *db, const char *reporter_id, int staff,
                      const struct report_in *in, json_t **out, struct souk_errinfo *ei)
{
    *out = NULL;
    int err = db_tx_run(db, report_fn, &(struct report_args){reporter_id, staff, in, out}, ei);
    if (err && *out) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

struct list_args {
    const struct report_filter *f;
    const struct keyset *ks;
    struct arena *a;
    json_t **out;
    int64_t **keys;
    const char ***ids;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    const struct keyset *ks = la->ks;
    char kw[96], ko[96];
    struct db_res *r;
    struct db_param p[] = {DBT(la->f->status), DBT(la->f->target_type ? la->f->target_type : ""),
                           DBI(ks->k), DBT(ks->id)};
    const char *sql = arena_sprintf(
        la->a, "SELECT " REPORT_COLS " FROM reports WHERE status = $1 AND ($2 = '' OR "
               "target_type = $2)%s%s",
        keyset_where(ks, "created_at", "id", 3, kw, sizeof kw),
        keyset_order(ks, "created_at", "id", ko, sizeof ko));
    int err = db_query(c, sql, p, ks->has_cursor ? 4 : 2, &r, ei);

    if (err)
        return err;
    *la->out = json_array();
    *la->keys = arena_calloc(la->a, (size_t)db_nrows(r) + 1, sizeof **la->keys);
    *la->ids = arena_calloc(la->a, (size_t)db_nrows(r) + 1, sizeof **la->ids);
    for (int i = 0; i < db_nrows(r); i++) {
        json_array_append_new(*la->out, report_row_json(r, i));
        (*la->keys)[i] = db_int(r, i, 10);
        (*la->ids)[i] = arena_strdup(la->a, db_get(r, i, 0));
    }
    db_res_free(r);
    return SOUK_OK;
}

int moderation_reports_list(struct db *db, const struct report_filter *f,
                            const struct keyset *ks, struct arena *a, json_t **out,
                            int64_t **keys, const char ***ids, struct souk_errinfo *ei)
{
    *out = NULL;
    return db_run(db, list_fn, &(struct list_args){f, ks, a, out, keys, ids}, ei);
}

/* ---- hiding ------------------------------------------------------------------- */

static json_t *hidden_state(int hidden)
{
    return json_pack("{s:b}", "is_hidden", hidden);
}

/* Hides or shows a target in the caller's transaction: audited, and the
 * owner hears content.hidden when it goes. */
static int hide_tx(struct db_conn *c, const struct audit_actor *actor,
                   const struct moderation_kind *k, const char *id, int hidden,
                   const char *note, struct souk_errinfo *ei)
{
    char author[37] = "";
    int was, err;

    if (!k->set_hidden) {
        souk_errinfo_field(ei, "target_type", "This kind of target cannot be hidden.");
        return souk_fail(ei, SOUK_INVALID, "cannot hide a %s", k->type);
    }
    if (k->lookup(c, id, NULL, 1, author, &was, ei)) {
        souk_errinfo_field(ei, "target_id", "No such object.");
        return souk_fail(ei, SOUK_INVALID, "The target does not exist.");
    }
    if ((err = k->set_hidden(c, id, hidden, ei)))
        return err;
    json_t *b = hidden_state(was), *a = hidden_state(hidden);
    err = audit_record(c, actor, hidden ? "content.hide" : "content.unhide", k->type, id, b, a,
                       note, ei);
    json_decref(b), json_decref(a);
    if (!err && hidden && !was && author[0]) {
        json_t *ev = json_pack("{s:s, s:s}", "target_type", k->type, "target_id", id);
        err = notify(c, author, "content.hidden", ev, ei);
        json_decref(ev);
    }
    return err;
}

struct hide_args {
    const struct audit_actor *actor;
    const char *type, *id, *note;
    int hidden;
};

static int hide_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct hide_args *a = arg;
    const struct moderation_kind *k = moderation_kind(a->type);

    if (!k) {
        souk_errinfo_field(ei, "target_type", "Unknown target type.");
        return souk_fail(ei, SOUK_INVALID, "unknown target type");
    }
    return hide_tx(c, a->actor, k, a->id, a->hidden, a->note, ei);
}

int moderation_hide(struct db *db, const struct audit_actor *actor, const char *type,
                    const char *id, int hidden, const char *note, struct souk_errinfo *ei)
{
    return db_tx_run(db, hide_fn, &(struct hide_args){actor, type, id, note, hidden}, ei);
}

/* ---- resolving ------------------------------------------------------------------ */

struct resolve_args {
    const struct audit_actor *actor;
    const char *id;
    const struct resolve_in *in;
    json_t **out;
};

/* The action a resolution takes on its target. */
static int resolve_act(struct db_conn *c, const struct resolve_args *a,
                       const struct moderation_kind *k, const char *target_id,
                       struct souk_errinfo *ei)
{
    char author[37] = "";
    struct ban b;
    int hidden;

    if (!strcmp(a->in->action, "hide_content")) {
        if (!strcmp(k->type, "user")) {
            souk_errinfo_field(ei, "action", "A user cannot be hidden; ban them instead.");
            return souk_fail(ei, SOUK_INVALID, "cannot hide a user");
        }
        return hide_tx(c, a->actor, k, target_id, 1, a->in->note, ei);
    }
    if (!strcmp(a->in->action, "ban_user")) {
        if (k->lookup(c, target_id, NULL, 1, author, &hidden, ei) || !author[0])
            return souk_fail(ei, SOUK_PRECONDITION, "The target has no author to ban.");
        return moderation_ban_tx(c, a->actor, author, a->in->until, a->in->note, &b, ei);
    }
    return SOUK_OK; /* dismiss */
}

/* Marks open reports resolved: the report itself (claim: 0 rows when it was
 * resolved already) or, with target set, every other open one on it. */
#define RESOLVE_SET                                                                        \
    "UPDATE reports SET status = 'resolved', resolution_action = $1, resolution_note = $2, " \
    "resolved_by = $3, resolved_at = $4 WHERE "

/* Marks open reports resolved: the report itself (claim: 0 rows when it was
 * resolved already) or, with type set, every other open one on the target. */
static int resolve_mark(struct db_conn *c, const struct resolve_args *a, const char *type,
                        const char *target, int64_t *n, struct souk_errinfo *ei)
{
    struct db_param p[] = {DBT(a->in->action), DBT(a->in->note ? a->in->note : ""),
                           DBT(a->actor ? a->actor->user_id : NULL), DBI(clock_now_us()),
                           DBT(type ? type : a->id), DBT(target)};

    if (!type)
        return db_exec(c, RESOLVE_SET "id = $5 AND status = 'open'", p, 5, n, ei);
    return db_exec(c, RESOLVE_SET "target_type = $5 AND target_id = $6 AND status = 'open'", p,
                   6, n, ei);
}

static int resolve_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct resolve_args *a = arg;
    struct db_res *r;
    const struct moderation_kind *k;
    char type[16], target[37];
    int64_t claimed = 0, others = 0;
    int err = report_get(c, a->id, NULL, &r, ei);

    if (err)
        return err;
    snprintf(type, sizeof type, "%s", db_get(r, 0, 2));
    snprintf(target, sizeof target, "%s", db_get(r, 0, 3));
    db_res_free(r);
    if ((err = resolve_mark(c, a, NULL, NULL, &claimed, ei)))
        return err;
    if (!claimed)
        return souk_fail(ei, SOUK_PRECONDITION, "The report is already resolved.");
    if (!(k = moderation_kind(type)))
        return souk_fail(ei, SOUK_INTERNAL, "no moderation kind for %s", type);
    if ((err = resolve_act(c, a, k, target, ei)) ||
        (err = resolve_mark(c, a, type, target, &others, ei)))
        return err;
    json_t *b = json_pack("{s:s}", "status", "open");
    json_t *af = json_pack("{s:s, s:s, s:I}", "status", "resolved", "action", a->in->action,
                           "reports_resolved", (json_int_t)(claimed + others));
    err = audit_record(c, a->actor, "report.resolve", "report", a->id, b, af, a->in->note, ei);
    json_decref(b), json_decref(af);
    return err ? err : report_get(c, a->id, a->out, NULL, ei);
}

int moderation_resolve(struct db *db, const struct audit_actor *actor, const char *report_id,
                       const struct resolve_in *in, json_t **out, struct souk_errinfo *ei)
{
    *out = NULL;
    /* checked here too, not only by the API's parser: the console calls this directly */
    if (!in->action || (strcmp(in->action, "dismiss") && strcmp(in->action, "hide_content") &&
                        strcmp(in->action, "ban_user"))) {
        souk_errinfo_field(ei, "action", "Expected dismiss, hide_content or ban_user.");
        return souk_fail(ei, SOUK_INVALID, "Invalid action.");
    }
    int err = db_tx_run(db, resolve_fn, &(struct resolve_args){actor, report_id, in, out}, ei);
    if (err && *out) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

/* ---- the export (userdata.h): the user's own reports stay after an erasure ----- */

static int export_reports(struct db_conn *c, const struct userdata_who *w, json_t **out,
                          struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT " REPORT_COLS " FROM reports WHERE reporter_id = $1 "
                       "ORDER BY created_at DESC, id DESC",
                       DB_PARAMS(DBT(w->user_id)), &r, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(*out, report_row_json(r, i));
    db_res_free(r);
    return SOUK_OK;
}

static const struct userdata_part reports_part = {
    .key = "reports", .export_fn = export_reports, .order = 700};

static void moderation_userdata_register(void)
{
    userdata_register(&reports_part);
}
