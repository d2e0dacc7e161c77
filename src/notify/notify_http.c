/* notify_http.c - the caller's notifications and live event stream.
 *
 *   GET  /api/notifications/            newest first, cursor-paginated; ?unread=true
 *   POST /api/notifications/{id}/read/  marks one read (someone else's: 404)
 *   GET  /api/events/                   text/event-stream of the caller's
 *                                       notifications (Bearer header or ?token=);
 *                                       Last-Event-ID (or ?last_event_id=) first
 *                                       replays the stored ones after that id
 *
 * Notification ids are UUIDv7, so "after this id" is "created after it".
 * A replay is capped at NOTIFY_REPLAY_MAX events; a client further behind
 * reads the rest from GET /api/notifications/.
 *
 * Known gap: an event committed between the replay query and the stream's
 * registration in the hub is neither replayed nor streamed; the client
 * sees it at its next reconnection (its Last-Event-ID is older).
 *
 * Thread safety: handlers keep all state in the request.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/arena.h"
#include "core/uuid.h"
#include "http/http.h"
#include "notify/internal.h"
#include "notify/notify.h"

#define NOTIFY_REPLAY_MAX 1000

/* ---- GET /api/notifications/ ---------------------------------------------- */

struct list_q {
    struct notify_page_q page;
    json_t *rows;
};

static int list_parse(struct http_req *req, struct page *pg, struct list_q *q,
                      struct souk_errinfo *ei)
{
    const char *unread = http_query(req, "unread");
    int err;

    if ((err = page_parse(req, pg, ei)))
        return err;
    if (unread && !strcmp(unread, "true"))
        q->page.unread = 1;
    else if (unread && strcmp(unread, "false") != 0) {
        souk_errinfo_field(ei, "unread", "Expected true or false.");
        return souk_fail(ei, SOUK_INVALID, "bad unread filter");
    }
    if (pg->cursor) {
        q->page.after = json_string_value(json_object_get(pg->cursor, "id"));
        if (!q->page.after || !uuid_valid(q->page.after)) {
            souk_errinfo_field(ei, "cursor", "Invalid cursor.");
            return souk_fail(ei, SOUK_INVALID, "bad cursor");
        }
    }
    q->page.user = req->user->id;
    q->page.backwards = pg->backwards;
    q->page.limit = pg->size + 1;
    return 0;
}

static json_t *list_page(struct http_req *req, const struct page *pg, const struct list_q *q)
{
    int n = (int)json_array_size(q->rows), more = n > pg->size, shown = more ? pg->size : n;
    json_t *results = json_array(), *next = NULL, *prev = NULL;
    const char *first = NULL, *last = NULL;

    for (int k = 0; k < shown; k++) {
        json_t *row = json_array_get(q->rows, (size_t)(q->page.backwards ? shown - 1 - k : k));
        json_array_append(results, row);
        if (k == 0)
            first = json_string_value(json_object_get(row, "id"));
        last = json_string_value(json_object_get(row, "id"));
    }
    if (last && (q->page.backwards || more))
        next = json_pack("{s:s, s:s}", "id", last, "d", "n");
    if (first && (q->page.backwards ? more : pg->cursor != NULL))
        prev = json_pack("{s:s, s:s}", "id", first, "d", "p");
    char *nc = next ? page_cursor_encode(req, next) : NULL;
    char *pc = prev ? page_cursor_encode(req, prev) : NULL;
    json_decref(next);
    json_decref(prev);
    return page_envelope(req, results, nc, pc);
}

static int notifications_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct list_q q = {0};
    struct page pg;
    int err;

    if ((err = policy_user(req, &ei)) || (err = list_parse(req, &pg, &q, &ei)))
        return http_problem(req, err, &ei);
    if ((err = notify_list(req->db, &q.page, &q.rows, &ei)))
        return http_problem(req, err, &ei);
    json_t *out = list_page(req, &pg, &q);
    json_decref(q.rows);
    return http_json(req, 200, out);
}

/* ---- POST /api/notifications/{id}/read/ --------------------------------------- */

static int notification_read_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    json_t *j = NULL;
    int err = policy_user(req, &ei);

    if (!err)
        err = notify_mark_read(req->db, http_param(req, 0), req->user->id, &j, &ei);
    return err ? http_problem(req, err, &ei) : http_json(req, 200, j);
}

/* ---- GET /api/events/ --------------------------------------------------------- */

/* The SSE text of the stored events after `after` (arena), or NULL. */
static int replay_text(struct http_req *req, const char *after, char **out, struct souk_errinfo *ei)
{
    json_t *rows = NULL;
    size_t len = 0;
    int err = notify_replay(req->db, req->user->id, after, NOTIFY_REPLAY_MAX, &rows, ei);

    *out = NULL;
    for (size_t i = 0; !err && i < json_array_size(rows); i++) {
        json_t *j = json_array_get(rows, i);
        char *data = json_dumps(j, JSON_COMPACT);
        char *frame = notify_sse_frame(json_string_value(json_object_get(j, "id")),
                                       json_string_value(json_object_get(j, "type")),
                                       data ? data : "{}");
        size_t n = strlen(frame);
        char *grown = arena_alloc(req->arena, len + n + 1);
        if (*out)
            memcpy(grown, *out, len);
        memcpy(grown + len, frame, n + 1);
        *out = grown;
        len += n;
        free(frame);
        free(data);
    }
    json_decref(rows);
    return err;
}

static int events_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *last = http_header(req, "Last-Event-ID");
    char *backlog = NULL;
    int err = policy_user(req, &ei);

    if (!last)
        last = http_query(req, "last_event_id");
    if (!err && last && uuid_valid(last))
        err = replay_text(req, last, &backlog, &ei);
    if (err)
        return http_problem(req, err, &ei);
    return http_sse_start(req, req->user->id, backlog);
}

void notify_http_register(struct router *r)
{
    http_route(r, "GET", "/api/notifications/", notifications_get, 0,
               "The caller's notifications, newest first (?unread=true)");
    http_route(r, "POST", "/api/notifications/{id}/read/", notification_read_post, 0,
               "Mark one of the caller's notifications read");
    http_route(r, "GET", "/api/events/", events_get, ROUTE_NO_RATELIMIT,
               "The caller's notifications as a live text/event-stream");
}
