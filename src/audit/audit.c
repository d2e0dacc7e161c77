/* audit.c - the audit trail: see audit.h. Table owned here: audit_log. */
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"

static char *dump_or_null(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

int audit_record(struct db_conn *c, const struct audit_actor *actor, const char *action,
                 const char *target_type, const char *target_id, const json_t *before,
                 const json_t *after, const char *note, struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];
    char *b = dump_or_null(before), *a = dump_or_null(after);
    const char *who = actor && actor->user_id && actor->user_id[0] ? actor->user_id : NULL;
    int err;

    uuid_v7(id);
    err = db_exec_later(c,
                        "INSERT INTO audit_log (id, at, actor_id, actor_role, action, target_type, "
                        "target_id, before_json, after_json, note) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        DB_PARAMS(DBT(id), DBI(clock_now_us()), DBT(who),
                                  DBT(who && actor->role ? actor->role : ""), DBT(action),
                                  DBT(target_type), DBT(target_id), DBT(b), DBT(a),
                                  DBT(note ? note : "")),
                        ei);
    free(b);
    free(a);
    return err;
}

#define AUDIT_COLS                                                                           \
    "id, at, actor_id, actor_role, action, target_type, target_id, before_json, after_json, " \
    "note"

static json_t *json_or_null(const char *s)
{
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    return j ? j : json_null();
}

static json_t *row_json(const struct db_res *r, int i)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:s}", "id", db_get(r, i, 0),
                     "at", json_time(db_int(r, i, 1)), "actor_id",
                     json_str_or_null(db_get(r, i, 2)), "actor_role",
                     db_get(r, i, 3)[0] ? json_string(db_get(r, i, 3)) : json_null(), "action",
                     db_get(r, i, 4), "target_type", db_get(r, i, 5), "target_id",
                     db_get(r, i, 6), "before", json_or_null(db_get(r, i, 7)), "after",
                     json_or_null(db_get(r, i, 8)), "note", db_get(r, i, 9));
}

/* WHERE clause and parameters of a filter; returns the parameter count. */
static int filter_sql(const struct audit_filter *f, struct arena *a, char **where,
                      struct db_param *p)
{
    int n = 0;
    char *w = arena_strdup(a, " WHERE 1=1");

    if (f->actor)
        p[n] = DBT(f->actor), w = arena_sprintf(a, "%s AND actor_id = $%d", w, ++n);
    if (f->action)
        p[n] = DBT(f->action), w = arena_sprintf(a, "%s AND action = $%d", w, ++n);
    if (f->target_type)
        p[n] = DBT(f->target_type), w = arena_sprintf(a, "%s AND target_type = $%d", w, ++n);
    if (f->target_id)
        p[n] = DBT(f->target_id), w = arena_sprintf(a, "%s AND target_id = $%d", w, ++n);
    if (f->since)
        p[n] = DBI(f->since), w = arena_sprintf(a, "%s AND at >= $%d", w, ++n);
    if (f->until)
        p[n] = DBI(f->until), w = arena_sprintf(a, "%s AND at <= $%d", w, ++n);
    *where = w;
    return n;
}

struct list_args {
    const struct audit_filter *f;
    const struct keyset *ks;
    struct arena *a;
    json_t **out;
    int64_t **keys;
    const char ***ids;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    const struct audit_filter *f = la->f;
    const struct keyset *ks = la->ks;
    struct arena *a = la->a;
    json_t **out = la->out;
    int64_t **keys = la->keys;
    const char ***ids = la->ids;
    struct db_param p[8];
    char kw[96], ko[96], *where;
    struct db_res *r;
    int n = filter_sql(f, a, &where, p), err;

    if (ks->has_cursor)
        p[n] = DBI(ks->k), p[n + 1] = DBT(ks->id);
    const char *sql = arena_sprintf(a, "SELECT " AUDIT_COLS " FROM audit_log%s%s%s", where,
                                    keyset_where(ks, "at", "id", n + 1, kw, sizeof kw),
                                    keyset_order(ks, "at", "id", ko, sizeof ko));
    if ((err = db_query(c, sql, p, n + (ks->has_cursor ? 2 : 0), &r, ei)))
        return err;
    *out = json_array();
    *keys = arena_calloc(a, (size_t)db_nrows(r) + 1, sizeof **keys);
    *ids = arena_calloc(a, (size_t)db_nrows(r) + 1, sizeof **ids);
    for (int i = 0; i < db_nrows(r); i++) {
        json_array_append_new(*out, row_json(r, i));
        (*keys)[i] = db_int(r, i, 1);
        (*ids)[i] = arena_strdup(a, db_get(r, i, 0));
    }
    db_res_free(r);
    return SOUK_OK;
}

int audit_list(struct db *db, const struct audit_filter *f, const struct keyset *ks,
               struct arena *a, json_t **out, int64_t **keys, const char ***ids,
               struct souk_errinfo *ei)
{
    *out = NULL;
    return db_run(db, list_fn, &(struct list_args){f, ks, a, out, keys, ids}, ei);
}
