/* messages.c - messages of a thread: post, page, soft delete, staff hiding,
 * and their JSON (see messaging.h). No HTTP here.
 *
 * A deleted or hidden message keeps its row; participants see a placeholder
 * {id, thread_id, sender_id, created_at, deleted: true, body: null} (plus
 * is_hidden: true when staff hid it); the moderator view shows everything.
 *
 * Thread safety: no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "messaging/internal.h"
#include "messaging/messaging.h"
#include "notify/notify.h"
#include "moderation/moderation.h"

#define MESSAGE_COLS "id, thread_id, sender_id, body, created_at, deleted_at, hidden_at"

static void message_from_row(const struct db_res *r, int i, struct arena *a, struct message *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", db_get(r, i, 0));
    snprintf(m->thread_id, sizeof m->thread_id, "%s", db_get(r, i, 1));
    snprintf(m->sender_id, sizeof m->sender_id, "%s", db_get(r, i, 2));
    m->body = arena_strdup(a, db_get(r, i, 3));
    m->created_at = db_int(r, i, 4);
    m->deleted_at = db_int(r, i, 5);
    m->hidden_at = db_int(r, i, 6);
}

/* Tells every participant but `user_id` of the event. */
static int tell_others(struct db_conn *c, const char *user_id, const char *thread_id,
                       const char *type, const json_t *payload, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT user_id FROM thread_participants WHERE thread_id = $1 AND "
                       "user_id <> $2",
                       DB_PARAMS(DBT(thread_id), DBT(user_id)), &r, ei);
    if (err)
        return err;
    for (int i = 0; i < db_nrows(r) && !err; i++)
        err = notify(c, db_get(r, i, 0), type, payload, ei);
    db_res_free(r);
    return err;
}

int message_post_tx(struct db_conn *c, const char *user_id, const char *thread_id,
                    const char *body, struct arena *a, struct message *out,
                    struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    json_t *payload;
    int err;

    memset(out, 0, sizeof *out);
    uuid_v7(out->id);
    snprintf(out->thread_id, sizeof out->thread_id, "%s", thread_id);
    snprintf(out->sender_id, sizeof out->sender_id, "%s", user_id);
    out->body = arena_strdup(a, body);
    out->created_at = now;
    err = db_exec(c,
                  "INSERT INTO messages (id, thread_id, sender_id, body, created_at) VALUES "
                  "($1, $2, $3, $4, $5)",
                  DB_PARAMS(DBT(out->id), DBT(thread_id), DBT(user_id), DBT(body), DBI(now)),
                  NULL, ei);
    if (!err)
        err = db_exec(c, "UPDATE threads SET last_message_id = $2, last_message_at = $3 WHERE "
                      "id = $1", DB_PARAMS(DBT(thread_id), DBT(out->id), DBI(now)), NULL, ei);
    if (!err)
        err = db_exec(c, "UPDATE thread_participants SET hidden = FALSE, last_message_at = $2 "
                      "WHERE thread_id = $1", DB_PARAMS(DBT(thread_id), DBI(now)), NULL, ei);
    if (err)
        return err;
    payload = messaging_message_to_json(out);
    err = tell_others(c, user_id, thread_id, "message.created", payload, ei);
    json_decref(payload);
    return err;
}

int messages_page(struct db_conn *c, const char *thread_id, const struct keyset *ks,
                  struct arena *a, struct message **out, int *n, struct souk_errinfo *ei)
{
    char sql[512], w[160], o[160];
    struct db_res *r;
    int err;

    snprintf(sql, sizeof sql, "SELECT " MESSAGE_COLS " FROM messages WHERE thread_id = $1%s%s",
             keyset_where(ks, "created_at", "id", 2, w, sizeof w),
             keyset_order(ks, "created_at", "id", o, sizeof o));
    err = ks->has_cursor
              ? db_query(c, sql, DB_PARAMS(DBT(thread_id), DBI(ks->k), DBT(ks->id)), &r, ei)
              : db_query(c, sql, DB_PARAMS(DBT(thread_id)), &r, ei);
    if (err)
        return err;
    *n = db_nrows(r);
    *out = arena_calloc(a, (size_t)*n + 1, sizeof **out);
    for (int i = 0; i < *n; i++)
        message_from_row(r, i, a, &(*out)[i]);
    db_res_free(r);
    return 0;
}

struct msg_args {
    const char *user_id;
    const char *id; /* thread or message */
    const char *body;
    const struct keyset *ks;
    struct arena *a;
    struct message *one;
    struct message **out;
    int *n;
};

static int is_participant(struct db_conn *c, const char *user_id, const char *thread_id,
                          struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT 1 FROM thread_participants WHERE thread_id = $1 AND user_id = $2",
                       DB_PARAMS(DBT(thread_id), DBT(user_id)), &r, ei);
    if (err)
        return err;
    err = db_nrows(r) == 1 ? 0 : souk_fail(ei, SOUK_NOT_FOUND, "No such thread.");
    db_res_free(r);
    return err;
}

static int page_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct msg_args *m = arg;
    int err = is_participant(c, m->user_id, m->id, ei);
    return err ? err : messages_page(c, m->id, m->ks, m->a, m->out, m->n, ei);
}

int messaging_messages_list(struct db *db, const char *user_id, const char *thread_id,
                            const struct keyset *ks, struct arena *a, struct message **out,
                            int *n, struct souk_errinfo *ei)
{
    struct msg_args m = {user_id, thread_id, NULL, ks, a, NULL, out, n};
    return db_run(db, page_fn, &m, ei);
}

static int post_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct msg_args *m = arg;
    int err = is_participant(c, m->user_id, m->id, ei);
    return err ? err : message_post_tx(c, m->user_id, m->id, m->body, m->a, m->one, ei);
}

int messaging_message_post(struct db *db, const char *user_id, const char *thread_id,
                           const char *body, struct arena *a, struct message *out,
                           struct souk_errinfo *ei)
{
    struct msg_args m = {user_id, thread_id, body, NULL, a, out, NULL, NULL};
    return db_tx_run(db, post_tx, &m, ei);
}

static int delete_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct msg_args *m = arg;
    struct message msg;
    struct db_res *r;
    int64_t n = 0;
    json_t *payload;
    int err = db_query(c, "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1",
                       DB_PARAMS(DBT(m->id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1)
        message_from_row(r, 0, m->a, &msg);
    err = db_nrows(r) == 1 ? 0 : souk_fail(ei, SOUK_NOT_FOUND, "No such message.");
    db_res_free(r);
    if (err || (err = is_participant(c, m->user_id, msg.thread_id, ei)))
        return err == SOUK_NOT_FOUND ? souk_fail(ei, SOUK_NOT_FOUND, "No such message.") : err;
    if (strcmp(msg.sender_id, m->user_id) != 0)
        return souk_fail(ei, SOUK_FORBIDDEN, "Only its sender may delete a message.");
    msg.deleted_at = clock_now_us();
    err = db_exec(c, "UPDATE messages SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                  DB_PARAMS(DBT(m->id), DBI(msg.deleted_at)), &n, ei);
    if (err || n == 0)
        return err;
    payload = messaging_message_to_json(&msg);
    err = tell_others(c, m->user_id, msg.thread_id, "message.deleted", payload, ei);
    json_decref(payload);
    return err;
}

int messaging_message_delete(struct db *db, const char *user_id, const char *message_id,
                             struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct msg_args m = {user_id, message_id, NULL, NULL, a, NULL, NULL, NULL};
    int err = db_tx_run(db, delete_tx, &m, ei);

    arena_free(a);
    return err;
}

int messages_set_hidden(struct db_conn *tx, const char *id, int hidden, char author_id[37],
                        struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx,
                       "UPDATE messages SET hidden_at = CASE WHEN CAST($2 AS INTEGER) = 1 THEN "
                       "COALESCE(hidden_at, CAST($3 AS BIGINT)) ELSE NULL END WHERE id = $1 "
                       "RETURNING sender_id",
                       DB_PARAMS(DBT(id), DBI(hidden ? 1 : 0), DBI(clock_now_us())), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1 && author_id)
        snprintf(author_id, 37, "%s", db_get(r, 0, 0));
    err = db_nrows(r) == 1 ? 0 : souk_fail(ei, SOUK_NOT_FOUND, "No such message.");
    db_res_free(r);
    return err;
}

/* The moderation kind "message": its sender; participants and staff see it. */
static int message_target(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                          char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct db_res *r;
    /* Without a viewer (staff) the participant count is not asked for: ids
     * may be typed columns, where '' is no value. */
    int err = viewer_id
                  ? db_query(c,
                             "SELECT m.sender_id, m.hidden_at, (SELECT COUNT(*) FROM "
                             "thread_participants p WHERE p.thread_id = m.thread_id AND "
                             "p.user_id = $2) FROM messages m WHERE m.id = $1",
                             DB_PARAMS(DBT(id), DBT(viewer_id)), &r, ei)
                  : db_query(c, "SELECT m.sender_id, m.hidden_at, 0 FROM messages m WHERE m.id = $1",
                             DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1 && (staff || db_int(r, 0, 2) > 0)) {
        snprintf(author, 37, "%s", db_get(r, 0, 0));
        *hidden = !db_isnull(r, 0, 1);
        db_res_free(r);
        return SOUK_OK;
    }
    db_res_free(r);
    return souk_fail(ei, SOUK_NOT_FOUND, "No such message.");
}

static int message_set_hidden(struct db_conn *c, const char *id, int hidden,
                              struct souk_errinfo *ei)
{
    return messages_set_hidden(c, id, hidden, NULL, ei);
}

const struct moderation_kind messages_moderation_kind = {"message", message_target,
                                                         message_set_hidden};

/* ---- JSON -------------------------------------------------------------------------- */

json_t *messaging_message_to_json(const struct message *m)
{
    json_t *o;

    if (!m->deleted_at && !m->hidden_at)
        return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "id", m->id, "thread_id",
                         m->thread_id, "sender_id", m->sender_id, "body", m->body, "deleted", 0,
                         "created_at", json_time(m->created_at));
    o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:n}", "id", m->id, "thread_id", m->thread_id,
                  "sender_id", m->sender_id, "created_at", json_time(m->created_at), "deleted", 1,
                  "body");
    if (m->hidden_at)
        json_object_set_new(o, "is_hidden", json_true());
    return o;
}

json_t *messaging_message_to_json_full(const struct message *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:b, s:o}", "id", m->id, "thread_id",
                     m->thread_id, "sender_id", m->sender_id, "body", m->body, "deleted",
                     m->deleted_at != 0, "deleted_at",
                     json_time_or_null(m->deleted_at, m->deleted_at == 0), "is_hidden",
                     m->hidden_at != 0, "created_at", json_time(m->created_at));
}

json_t *messaging_thread_to_json(const struct thread *t)
{
    json_t *parts = json_array();

    for (int k = 0; k < 2; k++)
        json_array_append_new(parts, json_pack("{s:s, s:s}", "id", t->parties[k].id, "name",
                                               t->parties[k].name));
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "id", t->id, "listing_id",
                     t->has_listing ? json_string(t->listing_id) : json_null(), "listing",
                     t->has_listing ? json_pack("{s:s, s:s, s:s}", "id", t->listing_id, "title",
                                                t->listing_title, "status", t->listing_status)
                                    : json_null(),
                     "participants", parts, "last_message",
                     t->has_last ? messaging_message_to_json(&t->last) : json_null(),
                     "unread_count", (json_int_t)t->unread_count, "last_message_at",
                     json_time(t->last_message_at), "created_at", json_time(t->created_at));
}
