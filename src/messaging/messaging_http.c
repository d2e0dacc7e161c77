/* messaging_http.c - /api/threads/... and /api/messages/{id}/ handlers
 * (API.md § "Listings, messaging and moderation").
 *
 * Shape: parse (jv_*) → policy_user (who may at all) → domain (messaging.h,
 * which answers SOUK_NOT_FOUND to anyone but a participant, staff included)
 * → respond. No SQL here.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/policy.h"
#include "core/json.h"
#include "db/keyset.h"
#include "http/http.h"
#include "messaging/messaging.h"

/* POST /api/threads/ */
static int threads_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char listing[37], recipient[37];
    struct thread_open in = {0};
    struct thread t;
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    if (jv_uuid(&v, "listing_id", 0, listing))
        in.listing_id = listing;
    if (jv_uuid(&v, "recipient_id", 0, recipient))
        in.recipient_id = recipient;
    in.body = jv_str(&v, "body", JV_REQUIRED, 1, MESSAGE_BODY_MAX, NULL);
    if (!v.bad && !in.listing_id == !in.recipient_id)
        jv_error(&v, "non_field_errors", "Give exactly one of listing_id and recipient_id.");
    if ((err = jv_done(&v)) ||
        (err = messaging_thread_open(req->db, req->user->id, &in, req->arena, &t, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, messaging_thread_to_json(&t));
}

/* GET /api/threads/ */
static int threads_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct thread *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n;

    if ((err = policy_user(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = messaging_threads_list(req->db, req->user->id, &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, messaging_thread_to_json(&rows[i]));
        keys[i] = rows[i].last_message_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/threads/{id}/ */
static int thread_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct thread t;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = messaging_thread_get(req->db, req->user->id, http_param(req, 0), req->arena, &t,
                                    &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, messaging_thread_to_json(&t));
}

/* DELETE /api/threads/{id}/ */
static int thread_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = messaging_thread_hide(req->db, req->user->id, http_param(req, 0), &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* GET /api/threads/{id}/messages/ */
static int messages_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct message *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n;

    if ((err = policy_user(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = messaging_messages_list(req->db, req->user->id, http_param(req, 0), &ks,
                                       req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, messaging_message_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/moderation/threads/{id}/ (staff): the thread and every message,
 * oldest first, as written; each call is audited (thread.view). */
static int moderation_thread_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor who = {req->user ? req->user->id : NULL,
                              req->user ? auth_role_name(req->user->role) : NULL};
    struct message *rows;
    struct thread t;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results, *env;
    int err, n;

    if ((err = policy_staff(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 1, &ks, &ei)) ||
        (err = messaging_thread_moderation(req->db, &who, http_param(req, 0), &ks, req->arena,
                                           &t, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, messaging_message_to_json_full(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    env = keyset_envelope(req, &pg, &ks, results, keys, ids);
    json_object_set_new(env, "thread", messaging_thread_to_json(&t));
    return http_json(req, 200, env);
}

/* POST /api/threads/{id}/messages/ */
static int messages_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct message m;
    const char *text;
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    text = jv_str(&v, "body", JV_REQUIRED, 1, MESSAGE_BODY_MAX, NULL);
    if ((err = jv_done(&v)) ||
        (err = messaging_message_post(req->db, req->user->id, http_param(req, 0), text,
                                      req->arena, &m, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, messaging_message_to_json(&m));
}

/* POST /api/threads/{id}/read/ */
static int thread_read(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = messaging_thread_read(req->db, req->user->id, http_param(req, 0), &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, json_pack("{s:i}", "unread_count", 0));
}

/* DELETE /api/messages/{id}/ */
static int message_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = messaging_message_delete(req->db, req->user->id, http_param(req, 0), &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

void messaging_http_register(struct router *r)
{
    http_route(r, "POST", "/api/threads/", threads_post, ROUTE_AUTH,
               "open or reuse a thread and post a message");
    http_route(r, "GET", "/api/threads/", threads_list, ROUTE_AUTH,
               "the caller's threads, latest message first");
    http_route(r, "GET", "/api/threads/{id}/", thread_get, ROUTE_AUTH, "a thread");
    http_route(r, "DELETE", "/api/threads/{id}/", thread_delete, ROUTE_AUTH,
               "hide a thread for the caller");
    http_route(r, "GET", "/api/threads/{id}/messages/", messages_list, ROUTE_AUTH,
               "messages of a thread, newest first");
    http_route(r, "POST", "/api/threads/{id}/messages/", messages_post, ROUTE_AUTH,
               "post a message");
    http_route(r, "POST", "/api/threads/{id}/read/", thread_read, ROUTE_AUTH,
               "mark a thread read");
    http_route(r, "GET", "/api/moderation/threads/{id}/", moderation_thread_get, ROUTE_AUTH,
               "A whole thread as written, for moderation (staff; audited)");
    http_route(r, "DELETE", "/api/messages/{id}/", message_delete, ROUTE_AUTH,
               "delete one's own message");
}
