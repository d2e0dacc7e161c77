/* requests.c - the request state machine (API.md § Home services,
 * POST /api/requests/ and its actions), its SQL and its events.
 *
 * Every move is one conditional UPDATE whose WHERE names the states it may
 * leave; zero rows changed means the state forbade it (invalid_state). A
 * finish sets the caller's *_finished_at once (a repeat changes nothing) and
 * a second conditional UPDATE completes the request when both are set.
 * Events: request.created to the specialist, request.updated to the other
 * party, both stored and streamed by notify() after commit.
 *
 * Display names (client "Anna K.", specialist business name) are read with
 * the request by a join, so a list is one query.
 *
 * Thread safety: none needed; state lives in the database.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "notify/notify.h"
#include "projects/specialists.h"
#include "requests/requests.h"
#include "userdata/userdata.h"

#define REQUEST_COLS                                                                       \
    "r.id, r.client_id, CASE WHEN u.erased_at IS NULL THEN u.first_name ELSE '"             \
    USERDATA_ERASED_NAME "' END, CASE WHEN u.erased_at IS NULL THEN u.last_name ELSE '' END, " \
    "r.specialist_id, r.specialist_user_id, "                                                \
    "v.business_name, r.project_id, r.message, r.budget, r.currency, r.status, "            \
    "r.client_finished_at, r.specialist_finished_at, r.completed_at, r.created_at, "        \
    "r.updated_at"
#define REQUEST_FROM                                                                \
    " FROM requests r JOIN users u ON u.id = r.client_id JOIN vendor_profiles v ON " \
    "v.id = r.specialist_id"

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

const char *requests_person_name(struct arena *a, const char *first, const char *last)
{
    size_t n = 0;

    if (!last || !*last)
        return arena_strdup(a, first ? first : "");
    n = 1; /* the first UTF-8 character of the last name */
    while (last[n] && ((unsigned char)last[n] & 0xC0) == 0x80)
        n++;
    return arena_sprintf(a, "%s %.*s.", first ? first : "", (int)n, last);
}

static void row_to_request(const struct db_res *r, int i, struct arena *a, struct request *o)
{
    memset(o, 0, sizeof *o);
    copy(o->id, sizeof o->id, db_get(r, i, 0));
    copy(o->client_id, sizeof o->client_id, db_get(r, i, 1));
    o->client_name = requests_person_name(a, db_get(r, i, 2), db_get(r, i, 3));
    copy(o->specialist_id, sizeof o->specialist_id, db_get(r, i, 4));
    copy(o->specialist_user_id, sizeof o->specialist_user_id, db_get(r, i, 5));
    o->specialist_name = arena_strdup(a, db_get(r, i, 6));
    copy(o->project_id, sizeof o->project_id, db_get(r, i, 7));
    o->message = arena_strdup(a, db_get(r, i, 8));
    o->budget = db_isnull(r, i, 9) ? -1 : db_int(r, i, 9);
    copy(o->currency, sizeof o->currency, db_get(r, i, 10));
    copy(o->status, sizeof o->status, db_get(r, i, 11));
    o->client_finished_at = db_int(r, i, 12);
    o->specialist_finished_at = db_int(r, i, 13);
    o->completed_at = db_int(r, i, 14);
    o->created_at = db_int(r, i, 15);
    o->updated_at = db_int(r, i, 16);
}

static int load_tx(struct db_conn *c, const char *id, struct arena *a, struct request *out,
                   struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c, "SELECT " REQUEST_COLS REQUEST_FROM " WHERE r.id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);

    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such request.");
    if (!err)
        row_to_request(r, 0, a, out);
    db_res_free(r);
    if (!err)
        err = reviews_of_request(c, out->id, a, &out->review, ei);
    return err;
}

/* ---- creating ---------------------------------------------------------------------------- */

struct create_args {
    const char *client_id;
    const struct request_in *in;
    struct arena *a;
    struct request *out;
};

/* The specialist (and project) named by the body: a field error when not. */
static int check_target(struct db_conn *c, const struct request_in *in, char user_id[37],
                        struct souk_errinfo *ei)
{
    char owner[37] = "";
    struct db_res *r = NULL;
    int err = specialist_check(c, in->specialist_id, ei);

    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_field(ei, "specialist_id", "No such specialist.");
        return SOUK_INVALID;
    }
    if (!err && in->project_id[0]) {
        err = project_owner(c, in->project_id, owner, ei);
        if (err == SOUK_NOT_FOUND || (!err && strcmp(owner, in->specialist_id) != 0)) {
            souk_errinfo_field(ei, "project_id", "No such project of this specialist.");
            return SOUK_INVALID;
        }
    }
    if (!err)
        err = db_query(c, "SELECT user_id FROM vendor_profiles WHERE id = $1",
                       DB_PARAMS(DBT(in->specialist_id)), &r, ei);
    if (!err && db_nrows(r) == 1)
        copy(user_id, 37, db_get(r, 0, 0));
    else if (!err)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such specialist.");
    db_res_free(r);
    return err;
}

static int request_event(struct db_conn *c, const struct request *r, const char *to,
                         const char *type, struct souk_errinfo *ei)
{
    json_t *p = json_pack("{s:s, s:s, s:s}", "request_id", r->id, "status", r->status,
                          "specialist_id", r->specialist_id);
    int err = notify(c, to, type, p, ei);

    json_decref(p);
    return err;
}

static int create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct create_args *x = arg;
    const struct request_in *in = x->in;
    int64_t now = clock_now_us();
    char id[37], spec_user[37] = "";
    int err = check_target(c, in, spec_user, ei);

    if (err)
        return err;
    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO requests (id, client_id, specialist_id, specialist_user_id, "
                  "project_id, message, budget, currency, status, created_at, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'new', $9, $9)",
                  DB_PARAMS(DBT(id), DBT(x->client_id), DBT(in->specialist_id), DBT(spec_user),
                            DBT(in->project_id[0] ? in->project_id : NULL), DBT(in->message),
                            in->budget < 0 ? DBNULL : DBI(in->budget), DBT(in->currency),
                            DBI(now)),
                  NULL, ei);
    if (!err)
        err = specialist_stat_add(c, in->specialist_id, in->project_id[0] ? in->project_id : NULL,
                                  SPECIALIST_STAT_REQUEST, now, ei);
    if (!err)
        err = load_tx(c, id, x->a, x->out, ei);
    if (!err)
        err = request_event(c, x->out, spec_user, "request.created", ei);
    return err;
}

int requests_create(struct db *db, const char *client_id, const struct request_in *in,
                    struct arena *a, struct request *out, struct souk_errinfo *ei)
{
    struct create_args x = {client_id, in, a, out};
    return db_tx_run(db, create_tx, &x, ei);
}

/* ---- reading ------------------------------------------------------------------------------ */

struct get_args {
    const char *id;
    struct arena *a;
    struct request *out;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;
    char id[UUID_STR_LEN];

    if (uuid_normalize(g->id, id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such request.");
    return load_tx(c, id, g->a, g->out, ei);
}

int requests_get(struct db *db, const char *id, struct arena *a, struct request *out,
                 struct souk_errinfo *ei)
{
    struct get_args g = {id, a, out};
    return db_run(db, get_fn, &g, ei);
}

struct list_args {
    const struct request_filter *f;
    const struct keyset *ks;
    struct arena *a;
    struct request **out;
    int *n;
};

static const char *party_where(const char *as)
{
    if (as && !strcmp(as, "client"))
        return "r.client_id = $1";
    if (as && !strcmp(as, "specialist"))
        return "r.specialist_user_id = $1";
    return "(r.client_id = $1 OR r.specialist_user_id = $1)";
}

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *l = arg;
    char where[160], order[160];
    struct db_res *r = NULL;
    int err;
    const char *sql = arena_sprintf(
        l->a,
        "SELECT " REQUEST_COLS REQUEST_FROM
        " WHERE %s AND (CAST($2 AS TEXT) IS NULL OR r.status = CAST($2 AS TEXT))%s%s",
        party_where(l->f->as), keyset_where(l->ks, "r.created_at", "r.id", 3, where, sizeof where),
        keyset_order(l->ks, "r.created_at", "r.id", order, sizeof order));
    struct db_param p[] = {DBT(l->f->user_id), DBT(l->f->status), DBI(l->ks->k), DBT(l->ks->id)};

    if ((err = db_query(c, sql, p, l->ks->has_cursor ? 4 : 2, &r, ei)))
        return err;
    *l->n = db_nrows(r);
    *l->out = arena_calloc(l->a, (size_t)*l->n + 1, sizeof **l->out);
    for (int i = 0; i < *l->n; i++)
        row_to_request(r, i, l->a, &(*l->out)[i]);
    db_res_free(r);
    for (int i = 0; !err && i < *l->n; i++)
        err = reviews_of_request(c, (*l->out)[i].id, l->a, &(*l->out)[i].review, ei);
    return err;
}

int requests_list(struct db *db, const struct request_filter *f, const struct keyset *ks,
                  struct arena *a, struct request **out, int *n, struct souk_errinfo *ei)
{
    struct list_args l = {f, ks, a, out, n};
    return db_run(db, list_fn, &l, ei);
}

/* ---- actions ------------------------------------------------------------------------------ */

struct act_args {
    const char *id;
    enum request_action act;
    const char *actor;
    struct arena *a;
    struct request *out;
};

static int invalid_state(struct souk_errinfo *ei, const char *status)
{
    return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                          "Not possible while the request is %s.", status);
}

/* accept, decline, cancel: one conditional UPDATE. */
static int move(struct db_conn *c, const struct request *r, enum request_action act,
                int64_t now, int64_t *changed, struct souk_errinfo *ei)
{
    const char *sql =
        act == REQUEST_CANCEL
            ? "UPDATE requests SET status = 'cancelled', updated_at = $2 WHERE id = $1 AND "
              "status IN ('new', 'accepted')"
            : "UPDATE requests SET status = $3, updated_at = $2 WHERE id = $1 AND status = 'new'";
    const char *to = act == REQUEST_ACCEPT ? "accepted" : "declined";

    if (act == REQUEST_CANCEL)
        return db_exec(c, sql, DB_PARAMS(DBT(r->id), DBI(now)), changed, ei);
    return db_exec(c, sql, DB_PARAMS(DBT(r->id), DBI(now), DBT(to)), changed, ei);
}

/* Sets the caller's finish; completes when both are set. *changed = 0 for
 * a repeat. */
static int finish(struct db_conn *c, const struct request *r, int is_client, int64_t now,
                  int64_t *changed, struct souk_errinfo *ei)
{
    int64_t done = 0;
    int err;
    const char *sql = is_client
                          ? "UPDATE requests SET client_finished_at = $2, updated_at = $2 WHERE "
                            "id = $1 AND status = 'accepted' AND client_finished_at IS NULL"
                          : "UPDATE requests SET specialist_finished_at = $2, updated_at = $2 "
                            "WHERE id = $1 AND status = 'accepted' AND specialist_finished_at "
                            "IS NULL";

    if (strcmp(r->status, "accepted") != 0 && strcmp(r->status, "completed") != 0)
        return invalid_state(ei, r->status);
    if ((err = db_exec(c, sql, DB_PARAMS(DBT(r->id), DBI(now)), changed, ei)) || !*changed)
        return err; /* a repeat: 200, unchanged */
    err = db_exec(c,
                  "UPDATE requests SET status = 'completed', completed_at = $2 WHERE id = $1 "
                  "AND status = 'accepted' AND client_finished_at IS NOT NULL AND "
                  "specialist_finished_at IS NOT NULL",
                  DB_PARAMS(DBT(r->id), DBI(now)), &done, ei);
    return err;
}

static int push_completed(struct db_conn *c, const char *specialist_id, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT COUNT(*) FROM requests WHERE specialist_id = $1 AND status = "
                       "'completed'",
                       DB_PARAMS(DBT(specialist_id)), &r, ei);

    if (!err)
        err = specialist_set_completed_requests(c, specialist_id, db_int(r, 0, 0), ei);
    db_res_free(r);
    return err;
}

static int act_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act_args *x = arg;
    struct request r;
    int64_t changed = 0, now = clock_now_us();
    int is_client, err = load_tx(c, x->id, x->a, &r, ei);

    if (err)
        return err;
    is_client = strcmp(x->actor, r.client_id) == 0;
    if (x->act == REQUEST_FINISH)
        err = finish(c, &r, is_client, now, &changed, ei);
    else if (!(err = move(c, &r, x->act, now, &changed, ei)) && !changed)
        err = invalid_state(ei, r.status);
    if (!err)
        err = load_tx(c, x->id, x->a, x->out, ei);
    if (!err && changed)
        err = request_event(c, x->out, is_client ? r.specialist_user_id : r.client_id,
                            "request.updated", ei);
    if (!err && changed && strcmp(x->out->status, "completed") == 0)
        err = push_completed(c, r.specialist_id, ei);
    return err;
}

int requests_act(struct db *db, const char *id, enum request_action act,
                 const char *actor_user_id, struct arena *a, struct request *out,
                 struct souk_errinfo *ei)
{
    struct act_args x = {id, act, actor_user_id, a, out};
    return db_tx_run(db, act_tx, &x, ei);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *time_or_null(int64_t us)
{
    return json_time_or_null(us, us == 0);
}

json_t *requests_to_json(const struct request *r)
{
    json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s}, s:o, s:s}", "id", r->id,
                          "client", "id", r->client_id, "name", r->client_name, "specialist_id",
                          r->specialist_id, "specialist", "id", r->specialist_id, "business_name",
                          r->specialist_name, "project_id", json_str_or_null(
                              r->project_id[0] ? r->project_id : NULL),
                          "message", r->message);

    json_object_set_new(o, "budget", r->budget < 0 ? json_null() : money_to_json(r->budget));
    json_object_set_new(o, "currency", json_string(r->currency));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "client_finished_at", time_or_null(r->client_finished_at));
    json_object_set_new(o, "specialist_finished_at", time_or_null(r->specialist_finished_at));
    json_object_set_new(o, "completed_at", time_or_null(r->completed_at));
    json_object_set_new(o, "review", r->review ? reviews_to_json(r->review) : json_null());
    json_object_set_new(o, "created_at", json_time(r->created_at));
    json_object_set_new(o, "updated_at", json_time(r->updated_at));
    return o;
}
