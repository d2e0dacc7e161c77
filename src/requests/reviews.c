/* reviews.c - verified reviews of completed requests and their replies
 * (API.md § Home services: POST /api/requests/{id}/review/,
 * POST /api/reviews/{id}/reply/, GET /api/specialists/{id}/reviews/).
 *
 * One review per request (a unique index; the second insert is CONFLICT),
 * one reply per review (a conditional UPDATE). Every change to a review's
 * visibility or existence recomputes the specialist's visible totals in the
 * same transaction and pushes them to the showcase, so rating_avg and
 * review_count are current on the next read. Events: review.created to the
 * specialist, review.replied to the author.
 *
 * Thread safety: none needed; state lives in the database.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "notify/notify.h"
#include "projects/specialists.h"
#include "requests/requests.h"
#include "userdata/userdata.h"
#include "moderation/moderation.h"

#define REVIEW_COLS                                                                      \
    "w.id, w.request_id, w.specialist_id, w.author_id, CASE WHEN u.erased_at IS NULL THEN " \
    "u.first_name ELSE '" USERDATA_ERASED_NAME "' END, CASE WHEN u.erased_at IS NULL THEN " \
    "u.last_name ELSE '' END, "                                                            \
    "w.rating, w.text, w.reply_text, w.reply_at, w.hidden_at, w.created_at, "             \
    "r.specialist_user_id"
#define REVIEW_FROM \
    " FROM reviews w JOIN users u ON u.id = w.author_id JOIN requests r ON r.id = w.request_id"

static void copy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static void row_to_review(const struct db_res *r, int i, struct arena *a, struct review *w)
{
    memset(w, 0, sizeof *w);
    copy(w->id, sizeof w->id, db_get(r, i, 0));
    copy(w->request_id, sizeof w->request_id, db_get(r, i, 1));
    copy(w->specialist_id, sizeof w->specialist_id, db_get(r, i, 2));
    copy(w->author_id, sizeof w->author_id, db_get(r, i, 3));
    w->author_name = requests_person_name(a, db_get(r, i, 4), db_get(r, i, 5));
    w->rating = (int)db_int(r, i, 6);
    w->text = arena_strdup(a, db_get(r, i, 7));
    w->reply_text = arena_strdup(a, db_get(r, i, 8));
    w->reply_at = db_int(r, i, 9);
    w->hidden_at = db_int(r, i, 10);
    w->created_at = db_int(r, i, 11);
    copy(w->specialist_user_id, sizeof w->specialist_user_id, db_get(r, i, 12));
}

static int load_where(struct db_conn *c, const char *col, const char *id, struct arena *a,
                      struct review **out, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    const char *sql = arena_sprintf(a, "SELECT " REVIEW_COLS REVIEW_FROM " WHERE %s = $1", col);
    int err = db_query(c, sql, DB_PARAMS(DBT(id)), &r, ei);

    *out = NULL;
    if (!err && db_nrows(r) == 1) {
        *out = arena_alloc(a, sizeof **out);
        row_to_review(r, 0, a, *out);
    }
    db_res_free(r);
    return err;
}

int reviews_of_request(struct db_conn *c, const char *request_id, struct arena *a,
                       struct review **out, struct souk_errinfo *ei)
{
    return load_where(c, "w.request_id", request_id, a, out, ei);
}

/* Recomputes the specialist's visible-review totals and pushes them. */
static int push_totals(struct db_conn *c, const char *specialist_id, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT COALESCE(SUM(rating), 0), COUNT(*) FROM reviews WHERE "
                       "specialist_id = $1 AND hidden_at IS NULL",
                       DB_PARAMS(DBT(specialist_id)), &r, ei);

    if (!err)
        err = specialist_set_review_totals(c, specialist_id, db_int(r, 0, 0), db_int(r, 0, 1),
                                           ei);
    db_res_free(r);
    return err;
}

static int review_event(struct db_conn *c, const struct review *w, const char *to,
                        const char *type, struct souk_errinfo *ei)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:i}", "review_id", w->id, "request_id",
                          w->request_id, "specialist_id", w->specialist_id, "rating", w->rating);
    int err = notify(c, to, type, p, ei);

    json_decref(p);
    return err;
}

/* ---- writing ---------------------------------------------------------------------------- */

struct create_args {
    const struct request *r;
    int rating;
    const char *text;
    struct arena *a;
    struct review *out;
};

static int create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct create_args *x = arg;
    struct db_res *res = NULL;
    struct review *w = NULL;
    int64_t now = clock_now_us();
    char id[37];
    int err = db_query(c, "SELECT status FROM requests WHERE id = $1", DB_PARAMS(DBT(x->r->id)),
                       &res, ei);

    if (!err && (db_nrows(res) != 1 || strcmp(db_get(res, 0, 0), "completed") != 0))
        err = souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                             "Only a completed request can be reviewed.");
    db_res_free(res);
    uuid_v7(id);
    if (!err)
        err = db_exec(c,
                      "INSERT INTO reviews (id, request_id, specialist_id, author_id, rating, "
                      "text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                      DB_PARAMS(DBT(id), DBT(x->r->id), DBT(x->r->specialist_id),
                                DBT(x->r->client_id), DBI(x->rating), DBT(x->text), DBI(now)),
                      NULL, ei);
    if (err == SOUK_CONFLICT)
        return souk_fail(ei, SOUK_CONFLICT, "This request already has a review.");
    if (!err)
        err = push_totals(c, x->r->specialist_id, ei);
    if (!err && !(err = load_where(c, "w.id", id, x->a, &w, ei)) && w)
        *x->out = *w;
    if (!err)
        err = review_event(c, x->out, x->r->specialist_user_id, "review.created", ei);
    return err;
}

int reviews_create(struct db *db, const struct request *r, int rating, const char *text,
                   struct arena *a, struct review *out, struct souk_errinfo *ei)
{
    struct create_args x = {r, rating, text, a, out};
    return db_tx_run(db, create_tx, &x, ei);
}

struct one_args {
    const char *id;
    const char *text;
    struct arena *a;
    struct review *out;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *g = arg;
    struct review *w = NULL;
    char id[UUID_STR_LEN];
    int err;

    if (uuid_normalize(g->id, id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such review.");
    if ((err = load_where(c, "w.id", id, g->a, &w, ei)))
        return err;
    if (!w)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such review.");
    *g->out = *w;
    return 0;
}

int reviews_get(struct db *db, const char *id, struct arena *a, struct review *out,
                struct souk_errinfo *ei)
{
    struct one_args g = {id, NULL, a, out};
    return db_run(db, get_fn, &g, ei);
}

static int reply_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    int64_t changed = 0;
    int err = db_exec(c,
                      "UPDATE reviews SET reply_text = $2, reply_at = $3, updated_at = $3 WHERE "
                      "id = $1 AND reply_text IS NULL",
                      DB_PARAMS(DBT(x->id), DBT(x->text), DBI(clock_now_us())), &changed, ei);

    if (!err && !changed)
        return souk_fail(ei, SOUK_CONFLICT, "This review already has a reply.");
    if (!err)
        err = get_fn(c, x, ei);
    if (!err)
        err = review_event(c, x->out, x->out->author_id, "review.replied", ei);
    return err;
}

int reviews_reply(struct db *db, const char *id, const char *text, struct arena *a,
                  struct review *out, struct souk_errinfo *ei)
{
    struct one_args x = {id, text, a, out};
    return db_tx_run(db, reply_tx, &x, ei);
}

int reviews_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_exec(c,
                      "UPDATE reviews SET hidden_at = CASE WHEN $2 = 1 THEN COALESCE(hidden_at, "
                      "$3) ELSE NULL END WHERE id = $1",
                      DB_PARAMS(DBT(id), DBI(hidden ? 1 : 0), DBI(clock_now_us())), NULL, ei);

    if (!err)
        err = db_query(c, "SELECT specialist_id FROM reviews WHERE id = $1", DB_PARAMS(DBT(id)),
                       &r, ei);
    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such review.");
    if (!err)
        err = push_totals(c, db_get(r, 0, 0), ei);
    db_res_free(r);
    return err;
}

/* The moderation kind "review": its author; staff, the author and the
 * specialist see it hidden, others only while visible. */
static int review_target(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                         char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT rv.author_id, rv.hidden_at, v.user_id FROM reviews rv JOIN "
                       "vendor_profiles v ON v.id = rv.specialist_id WHERE rv.id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1) {
        int own = viewer_id && (!strcmp(viewer_id, db_get(r, 0, 0)) ||
                                !strcmp(viewer_id, db_get(r, 0, 2)));
        *hidden = !db_isnull(r, 0, 1);
        if (staff || own || !*hidden) {
            snprintf(author, 37, "%s", db_get(r, 0, 0));
            db_res_free(r);
            return SOUK_OK;
        }
    }
    db_res_free(r);
    return souk_fail(ei, SOUK_NOT_FOUND, "No such review.");
}

static const struct moderation_kind review_kind = {"review", review_target, reviews_set_hidden};

void reviews_moderation_register(void)
{
    moderation_register_kind(&review_kind);
}

/* ---- listing ------------------------------------------------------------------------------ */

struct list_args {
    const char *specialist_id;
    int rating;
    const struct keyset *ks;
    struct arena *a;
    struct review **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *l = arg;
    char where[160], order[160];
    struct db_res *r = NULL;
    int err = specialist_check(c, l->specialist_id, ei);
    const char *sql = arena_sprintf(
        l->a,
        "SELECT " REVIEW_COLS REVIEW_FROM " WHERE w.specialist_id = $1 AND w.hidden_at IS NULL "
        "AND ($2 = 0 OR w.rating = $2)%s%s",
        keyset_where(l->ks, "w.created_at", "w.id", 3, where, sizeof where),
        keyset_order(l->ks, "w.created_at", "w.id", order, sizeof order));
    struct db_param p[] = {DBT(l->specialist_id), DBI(l->rating), DBI(l->ks->k), DBT(l->ks->id)};

    if (err || (err = db_query(c, sql, p, l->ks->has_cursor ? 4 : 2, &r, ei)))
        return err;
    *l->n = db_nrows(r);
    *l->out = arena_calloc(l->a, (size_t)*l->n + 1, sizeof **l->out);
    for (int i = 0; i < *l->n; i++)
        row_to_review(r, i, l->a, &(*l->out)[i]);
    db_res_free(r);
    return 0;
}

int reviews_list(struct db *db, const char *specialist_id, int rating, const struct keyset *ks,
                 struct arena *a, struct review **out, int *n, struct souk_errinfo *ei)
{
    struct list_args l = {specialist_id, rating, ks, a, out, n};
    return db_run(db, list_fn, &l, ei);
}

json_t *reviews_to_json(const struct review *w)
{
    json_t *reply = w->reply_text ? json_pack("{s:s, s:o}", "text", w->reply_text, "created_at",
                                              json_time(w->reply_at))
                                  : json_null();

    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:i, s:s, s:o, s:o, s:b}", "id", w->id,
                     "request_id", w->request_id, "specialist_id", w->specialist_id, "author",
                     "id", w->author_id, "name", w->author_name, "rating", w->rating, "text",
                     w->text, "reply", reply, "created_at", json_time(w->created_at),
                     "is_hidden", w->hidden_at != 0);
}
