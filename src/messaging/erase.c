/* erase.c - the messaging module's part of the export and the erasure
 * (userdata.h).
 *
 * Export: every thread the user takes part in, with its messages oldest
 * first: the user's own in full, deleted and hidden ones included; the
 * other participant's as the user sees them (a deleted or hidden one without
 * its body).
 * Erasure: the user's messages become deleted placeholders and lose their
 * text; the threads stay for the other participant.
 */
#include <jansson.h>
#include <string.h>

#include "core/clock.h"
#include "db/db.h"
#include "messaging/messaging.h"
#include "userdata/userdata.h"

static int attach_messages(struct db_conn *c, const char *user_id, json_t *threads,
                           struct souk_errinfo *ei)
{
    json_t *msgs, *by_id = json_object(), *t, *m;
    size_t i;
    int err = userdata_rows(c,
                            "SELECT m.id, m.thread_id, m.sender_id, CASE WHEN m.sender_id = $1 OR "
                            "(m.deleted_at IS NULL AND m.hidden_at IS NULL) THEN m.body END AS "
                            "body, m.created_at, m.deleted_at, m.hidden_at FROM messages m JOIN "
                            "thread_participants p ON p.thread_id = m.thread_id AND p.user_id = $1 "
                            "ORDER BY m.created_at, m.id",
                            DB_PARAMS(DBT(user_id)), "ssssttt", &msgs, ei);
    if (err) {
        json_decref(by_id);
        return err;
    }
    json_array_foreach(threads, i, t)
    {
        json_object_set_new(t, "messages", json_array());
        json_object_set(by_id, json_string_value(json_object_get(t, "id")), t);
    }
    json_array_foreach(msgs, i, m)
    {
        t = json_object_get(by_id, json_string_value(json_object_get(m, "thread_id")));
        if (t)
            json_array_append(json_object_get(t, "messages"), m);
    }
    json_decref(msgs);
    json_decref(by_id);
    return SOUK_OK;
}

static int export_threads(struct db_conn *c, const struct userdata_who *w, json_t **out,
                          struct souk_errinfo *ei)
{
    int err = userdata_rows(c,
                            "SELECT t.id, t.listing_id, t.user_a, t.user_b, p.hidden AS "
                            "hidden_by_me, t.created_at, t.last_message_at FROM threads t JOIN "
                            "thread_participants p ON p.thread_id = t.id AND p.user_id = $1 "
                            "ORDER BY t.last_message_at DESC, t.id DESC",
                            DB_PARAMS(DBT(w->user_id)), "ssssbtt", out, ei);
    if (!err && (err = attach_messages(c, w->user_id, *out, ei))) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

static int erase_messages(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    return db_exec(c,
                   "UPDATE messages SET body = '', deleted_at = COALESCE(deleted_at, $2) "
                   "WHERE sender_id = $1",
                   DB_PARAMS(DBT(w->user_id), DBI(clock_now_us())), NULL, ei);
}

static const struct userdata_part threads_part = {
    .key = "threads", .export_fn = export_threads, .erase = erase_messages, .order = 400};

void messaging_userdata_register(void)
{
    userdata_register(&threads_part);
}
