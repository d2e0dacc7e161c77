/* messaging.c - threads: open or reuse, list, read, hide, read marks, the
 * moderator's view, and the listing.updated hook (see messaging.h). The
 * messages themselves are in messages.c. No HTTP here.
 *
 * The thread list is one statement over the participant rows (index
 * thread_participants (user_id, hidden, last_message_at, thread_id)); the
 * unread count is a correlated count over messages (thread_id, created_at),
 * inside that statement, so a page costs one read whatever its size.
 *
 * Thread safety: no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "listings/listings.h"
#include "messaging/internal.h"
#include "messaging/messaging.h"
#include "moderation/moderation.h"
#include "notify/notify.h"
#include "users/users.h"

#define THREAD_SELECT                                                                         \
    "SELECT t.id, t.listing_id, l.title, l.status, t.user_a, ua.first_name, ua.last_name, "   \
    "t.user_b, ub.first_name, ub.last_name, m.id, m.sender_id, m.body, m.created_at, "         \
    "m.deleted_at, m.hidden_at, (SELECT COUNT(*) FROM messages u WHERE u.thread_id = t.id "   \
    "AND u.created_at > p.last_read_at AND u.sender_id <> p.user_id AND u.deleted_at IS NULL " \
    "AND u.hidden_at IS NULL), t.last_message_at, t.created_at "                              \
    "FROM thread_participants p JOIN threads t ON t.id = p.thread_id "                        \
    "JOIN users ua ON ua.id = t.user_a JOIN users ub ON ub.id = t.user_b "                    \
    "LEFT JOIN listings l ON l.id = t.listing_id LEFT JOIN messages m ON m.id = "             \
    "t.last_message_id "

static const char *full_name(struct arena *a, const char *first, const char *last)
{
    const char *sep = *first && *last ? " " : "";
    return arena_sprintf(a, "%s%s%s", first, sep, last);
}

static void thread_from_row(const struct db_res *r, int i, struct arena *a, struct thread *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", db_get(r, i, 0));
    t->has_listing = !db_isnull(r, i, 1) && !db_isnull(r, i, 2);
    if (t->has_listing) {
        snprintf(t->listing_id, sizeof t->listing_id, "%s", db_get(r, i, 1));
        t->listing_title = arena_strdup(a, db_get(r, i, 2));
        snprintf(t->listing_status, sizeof t->listing_status, "%s", db_get(r, i, 3));
    }
    for (int k = 0; k < 2; k++) {
        snprintf(t->parties[k].id, sizeof t->parties[k].id, "%s", db_get(r, i, 4 + 3 * k));
        t->parties[k].name = full_name(a, db_get(r, i, 5 + 3 * k), db_get(r, i, 6 + 3 * k));
    }
    t->has_last = !db_isnull(r, i, 10);
    if (t->has_last) {
        struct message *m = &t->last;
        snprintf(m->id, sizeof m->id, "%s", db_get(r, i, 10));
        snprintf(m->thread_id, sizeof m->thread_id, "%s", t->id);
        snprintf(m->sender_id, sizeof m->sender_id, "%s", db_get(r, i, 11));
        m->body = arena_strdup(a, db_get(r, i, 12));
        m->created_at = db_int(r, i, 13);
        m->deleted_at = db_int(r, i, 14);
        m->hidden_at = db_int(r, i, 15);
    }
    t->unread_count = db_int(r, i, 16);
    t->last_message_at = db_int(r, i, 17);
    t->created_at = db_int(r, i, 18);
}

/* The thread as `user_id` sees it; SOUK_NOT_FOUND unless a participant. */
int thread_load(struct db_conn *c, const char *user_id, const char *thread_id, struct arena *a,
                struct thread *out, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c, THREAD_SELECT "WHERE p.thread_id = $1 AND p.user_id = $2",
                       DB_PARAMS(DBT(thread_id), DBT(user_id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1)
        thread_from_row(r, 0, a, out);
    else
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such thread.");
    db_res_free(r);
    return err;
}

/* ---- open ------------------------------------------------------------------------ */

struct open_args {
    const char *user_id;
    const struct thread_open *in;
    struct arena *a;
    struct thread *out;
};

static int bad_field(struct souk_errinfo *ei, const char *field, const char *msg)
{
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof *ei);
    souk_errinfo_field(ei, field, msg);
    return souk_fail(ei, SOUK_INVALID, "%s", msg);
}

/* The listing's thread of the asker: the other party and the thread id. */
static int open_listing(struct db_conn *c, struct open_args *o, char *other, char *tid,
                        struct souk_errinfo *ei)
{
    struct listing l;
    int64_t now = clock_now_us();
    int err = listings_get_tx(c, o->in->listing_id, o->a, &l, ei);
    struct db_res *r;

    if (err == SOUK_NOT_FOUND || (!err && l.is_hidden))
        return bad_field(ei, "listing_id", "No such listing.");
    if (err)
        return err;
    if (strcmp(l.owner_id, o->user_id) == 0)
        return bad_field(ei, "listing_id", "This is your own listing.");
    if (strcmp(l.status, "active") != 0 && strcmp(l.status, "reserved") != 0)
        return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              "This listing is not active or reserved.");
    snprintf(other, 37, "%s", l.owner_id);
    uuid_v7(tid);
    err = db_exec(c,
                  "INSERT INTO threads (id, listing_id, user_a, user_b, last_message_at, "
                  "created_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
                  DB_PARAMS(DBT(tid), DBT(l.id), DBT(o->user_id), DBT(other), DBI(now)), NULL,
                  ei);
    if (!err)
        err = db_query(c, "SELECT id FROM threads WHERE listing_id = $1 AND user_a = $2",
                       DB_PARAMS(DBT(l.id), DBT(o->user_id)), &r, ei);
    if (err)
        return err;
    snprintf(tid, 37, "%s", db_nrows(r) ? db_get(r, 0, 0) : "");
    db_res_free(r);
    return *tid ? 0 : souk_fail(ei, SOUK_RETRY, "thread vanished");
}

static int open_direct(struct db_conn *c, struct open_args *o, char *other, char *tid,
                       struct souk_errinfo *ei)
{
    const char *me = o->user_id, *you = o->in->recipient_id, *key;
    struct user u;
    struct db_res *r;
    int err;

    if (strcmp(me, you) == 0)
        return bad_field(ei, "recipient_id", "You cannot write to yourself.");
    if ((err = users_get(c, you, &u, ei)) == SOUK_NOT_FOUND || (!err && !u.is_active))
        return bad_field(ei, "recipient_id", "No such user.");
    if (err)
        return err;
    snprintf(other, 37, "%s", you);
    key = strcmp(me, you) < 0 ? arena_sprintf(o->a, "%s:%s", me, you)
                              : arena_sprintf(o->a, "%s:%s", you, me);
    uuid_v7(tid);
    err = db_exec(c,
                  "INSERT INTO threads (id, user_a, user_b, pair_key, last_message_at, "
                  "created_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
                  DB_PARAMS(DBT(tid), DBT(me), DBT(you), DBT(key), DBI(clock_now_us())), NULL,
                  ei);
    if (!err)
        err = db_query(c, "SELECT id FROM threads WHERE pair_key = $1", DB_PARAMS(DBT(key)), &r,
                       ei);
    if (err)
        return err;
    snprintf(tid, 37, "%s", db_nrows(r) ? db_get(r, 0, 0) : "");
    db_res_free(r);
    return *tid ? 0 : souk_fail(ei, SOUK_RETRY, "thread vanished");
}

static int open_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct open_args *o = arg;
    char other[37], tid[37];
    struct message m;
    int64_t now = clock_now_us();
    int err = o->in->listing_id ? open_listing(c, o, other, tid, ei)
                                : open_direct(c, o, other, tid, ei);

    if (!err)
        err = db_exec(c,
                      "INSERT INTO thread_participants (thread_id, user_id, last_message_at) "
                      "VALUES ($1, $2, $4), ($1, $3, $4) ON CONFLICT DO NOTHING",
                      DB_PARAMS(DBT(tid), DBT(o->user_id), DBT(other), DBI(now)), NULL, ei);
    if (!err)
        err = message_post_tx(c, o->user_id, tid, o->in->body, o->a, &m, ei);
    return err ? err : thread_load(c, o->user_id, tid, o->a, o->out, ei);
}

int messaging_thread_open(struct db *db, const char *user_id, const struct thread_open *in,
                          struct arena *a, struct thread *out, struct souk_errinfo *ei)
{
    struct open_args o = {user_id, in, a, out};
    return db_tx_run(db, open_tx, &o, ei);
}

/* ---- list, get, hide, read --------------------------------------------------------- */

struct list_args {
    const char *user_id;
    const char *thread_id;
    const struct keyset *ks;
    struct arena *a;
    struct thread **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    char sql[sizeof THREAD_SELECT + 512], w[160], o[160];
    struct db_res *r;
    int err;

    snprintf(sql, sizeof sql, THREAD_SELECT "WHERE p.user_id = $1 AND p.hidden = FALSE%s%s",
             keyset_where(la->ks, "p.last_message_at", "p.thread_id", 2, w, sizeof w),
             keyset_order(la->ks, "p.last_message_at", "p.thread_id", o, sizeof o));
    err = la->ks->has_cursor
              ? db_query(c, sql, DB_PARAMS(DBT(la->user_id), DBI(la->ks->k), DBT(la->ks->id)),
                         &r, ei)
              : db_query(c, sql, DB_PARAMS(DBT(la->user_id)), &r, ei);
    if (err)
        return err;
    *la->n = db_nrows(r);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++)
        thread_from_row(r, i, la->a, &(*la->out)[i]);
    db_res_free(r);
    return 0;
}

int messaging_threads_list(struct db *db, const char *user_id, const struct keyset *ks,
                           struct arena *a, struct thread **out, int *n,
                           struct souk_errinfo *ei)
{
    struct list_args la = {user_id, NULL, ks, a, out, n};
    return db_run(db, list_fn, &la, ei);
}

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    return thread_load(c, la->user_id, la->thread_id, la->a, *la->out, ei);
}

int messaging_thread_get(struct db *db, const char *user_id, const char *thread_id,
                         struct arena *a, struct thread *out, struct souk_errinfo *ei)
{
    struct list_args la = {user_id, thread_id, NULL, a, &out, NULL};
    return db_run(db, get_fn, &la, ei);
}

struct mark_args {
    const char *sql;
    const char *user_id;
    const char *thread_id;
};

static int mark_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct mark_args *m = arg;
    int64_t n = 0;
    int err = db_exec(c, m->sql, DB_PARAMS(DBT(m->thread_id), DBT(m->user_id),
                                           DBI(clock_now_us())), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such thread.");
    return err;
}

int messaging_thread_hide(struct db *db, const char *user_id, const char *thread_id,
                          struct souk_errinfo *ei)
{
    struct mark_args m = {"UPDATE thread_participants SET hidden = TRUE WHERE thread_id = $1 "
                          "AND user_id = $2 AND CAST($3 AS BIGINT) > 0",
                          user_id, thread_id};
    return db_tx_run(db, mark_tx, &m, ei);
}

int messaging_thread_read(struct db *db, const char *user_id, const char *thread_id,
                          struct souk_errinfo *ei)
{
    struct mark_args m = {"UPDATE thread_participants SET last_read_at = $3 WHERE thread_id = "
                          "$1 AND user_id = $2",
                          user_id, thread_id};
    return db_tx_run(db, mark_tx, &m, ei);
}

/* ---- the moderator's view ---------------------------------------------------------- */

struct mod_args {
    const struct audit_actor *actor;
    const char *thread_id;
    const struct keyset *ks;
    struct arena *a;
    struct thread *thread;
    struct message **out;
    int *n;
};

static int mod_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct mod_args *m = arg;
    struct db_res *r;
    int err = db_query(c, THREAD_SELECT "WHERE p.thread_id = $1 AND p.user_id = t.user_a",
                       DB_PARAMS(DBT(m->thread_id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1)
        thread_from_row(r, 0, m->a, m->thread);
    else
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such thread.");
    db_res_free(r);
    if (!err)
        m->thread->unread_count = 0;
    if (!err)
        err = messages_page(c, m->thread_id, m->ks, m->a, m->out, m->n, ei);
    return err ? err
               : audit_record(c, m->actor, "thread.view", "thread", m->thread_id, NULL, NULL,
                              NULL, ei);
}

int messaging_thread_moderation(struct db *db, const struct audit_actor *actor,
                                const char *thread_id, const struct keyset *ks, struct arena *a,
                                struct thread *thread, struct message **out, int *n,
                                struct souk_errinfo *ei)
{
    struct mod_args m = {actor, thread_id, ks, a, thread, out, n};
    return db_tx_run(db, mod_fn, &m, ei);
}

/* ---- listing.updated ---------------------------------------------------------------- */

static int listing_changed(struct db_conn *tx, const struct listing *l, const char *old_status,
                           struct souk_errinfo *ei)
{
    struct db_res *r;
    json_t *payload;
    int err = db_query(tx,
                       "SELECT DISTINCT p.user_id FROM threads t JOIN thread_participants p ON "
                       "p.thread_id = t.id WHERE t.listing_id = $1",
                       DB_PARAMS(DBT(l->id)), &r, ei);
    if (err)
        return err;
    payload = json_pack("{s:s, s:s, s:s, s:s}", "id", l->id, "title", l->title, "status",
                        l->status, "old_status", old_status);
    for (int i = 0; i < db_nrows(r) && !err; i++)
        err = notify(tx, db_get(r, i, 0), "listing.updated", payload, ei);
    json_decref(payload);
    db_res_free(r);
    return err;
}

int messaging_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    listings_set_status_hook(listing_changed);
    moderation_register_kind(&messages_moderation_kind);
    messaging_userdata_register();
    return 0;
}
