/* sec_threads.c - /admin/threads/: private message threads, the moderators'
 * view (ADMIN and MODERATOR). The list shows who talks about what (no
 * message text), newest activity first, filter by participant email
 * prefix; the detail page is messaging_thread_moderation, the function
 * behind GET /api/moderation/threads/{id}/: every message as written,
 * deleted and hidden ones included and marked, oldest first, and the
 * reading is audited (thread.view). A message is hidden or shown again
 * through moderation_hide (kind "message"), as the API does.
 *
 * API.md § "Admin console" and § "Listings, messaging and moderation".
 */
#include <string.h>

#include "admin/admin.h"
#include "core/clock.h"
#include "db/keyset.h"
#include "messaging/messaging.h"

#define THREAD_PAGE 200 /* messages shown on the detail page */

static void fix(json_t *row)
{
    admin_fmt_time(row, "last_message_at");
    admin_fmt_time(row, "created_at");
}

static int threads_list(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *q = admin_like_prefix(ax, admin_arg(ax, "q"));

    json_object_set_new(ax->page, "q", json_string(admin_arg(ax, "q")));
    return admin_list_sql(
        ax,
        "SELECT t.id, t.last_message_at, t.created_at, a.email AS email_a, b.email AS email_b, "
        "l.title AS listing_title, t.last_message_at AS _k FROM threads t "
        "JOIN users a ON a.id = t.user_a JOIN users b ON b.id = t.user_b "
        "LEFT JOIN listings l ON l.id = t.listing_id "
        "WHERE ($1 = '' OR lower(a.email) LIKE lower($1) OR lower(b.email) LIKE lower($1))",
        "t.last_message_at", "t.id", DB_PARAMS(DBT(q)), fix, ei);
}

static json_t *message_row(const struct message *m, const struct thread *t)
{
    char at[CLOCK_RFC3339_LEN];
    const char *who = "";

    for (int i = 0; i < 2; i++)
        if (!strcmp(t->parties[i].id, m->sender_id) && t->parties[i].name)
            who = t->parties[i].name;
    clock_format(m->created_at, at);
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", m->id, "sender", who, "body",
                     m->body ? m->body : "", "created_at", at, "is_deleted", m->deleted_at != 0,
                     "is_hidden", m->hidden_at != 0);
}

static int thread_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct keyset ks = {.limit = THREAD_PAGE + 1, .asc = 1};
    struct audit_actor who = admin_actor(ax);
    struct thread t;
    struct message *ms;
    json_t *rows = json_array();
    int n, err = messaging_thread_moderation(admin_db(ax), &who, ax->id, &ks, admin_arena(ax),
                                             &t, &ms, &n, ei);

    if (err) {
        json_decref(rows);
        return err;
    }
    for (int i = 0; i < n && i < THREAD_PAGE; i++)
        json_array_append_new(rows, message_row(&ms[i], &t));
    json_object_set_new(ax->page, "thread",
                        json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b}", "id", t.id, "party_a",
                                  t.parties[0].name ? t.parties[0].name : "", "party_b",
                                  t.parties[1].name ? t.parties[1].name : "", "listing_id",
                                  t.has_listing ? t.listing_id : NULL, "listing_title",
                                  t.has_listing ? t.listing_title : NULL, "more",
                                  n > THREAD_PAGE));
    json_object_set_new(ax->page, "messages", rows);
    return SOUK_OK;
}

/* Only a message of the page's thread: a form posted to one thread's URL
 * never hides a message elsewhere. */
static int set_message_hidden(struct admin_ctx *ax, int hidden, struct souk_errinfo *ei)
{
    const char *mid = admin_field(ax, "message_id");
    json_t *row;
    int err = admin_row_sql(admin_db(ax),
                            "SELECT id FROM messages WHERE CAST(id AS TEXT) = $1 AND "
                            "CAST(thread_id AS TEXT) = $2",
                            DB_PARAMS(DBT(mid), DBT(ax->id)), &row, ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_field(ei, "message_id", "Not a message of this thread.");
        return souk_fail(ei, SOUK_INVALID, "That message is not in this thread.");
    }
    if (err)
        return err;
    json_decref(row);
    return admin_set_hidden_id(ax, "message", mid, hidden, ei);
}

static int hide_message(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return set_message_hidden(ax, 1, ei);
}

static int unhide_message(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return set_message_hidden(ax, 0, ei);
}

static const struct admin_action actions[] = {
    {"hide-message", ADMIN_R_STAFF, hide_message, "Message hidden.", 0},
    {"unhide-message", ADMIN_R_STAFF, unhide_message, "Message shown again.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_threads = {
    .slug = "threads", .title = "Threads", .roles = ADMIN_R_STAFF,
    .list = threads_list, .detail = thread_detail, .actions = actions,
};
