/* blog_http.c - handlers of /api/blog/... (API.md § Home services): anyone
 * reads published posts; staff write, and see drafts and scheduled posts
 * (in the list with ?drafts=true).
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/policy.h"
#include "blog/blog.h"
#include "core/json.h"
#include "db/keyset.h"
#include "http/http.h"

static int parse_in(struct http_req *req, int creating, struct blog_in *in,
                    struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err, req_title = creating ? JV_REQUIRED : JV_OPTIONAL;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    memset(in, 0, sizeof *in);
    jv_begin(&v, body, ei);
    in->title = jv_str(&v, "title", req_title, 1, BLOG_TITLE_MAX * 4, NULL);
    in->slug = jv_str(&v, "slug", JV_OPTIONAL | JV_NULLABLE, 1, BLOG_SLUG_MAX, NULL);
    if (in->slug && !blog_slug_valid(in->slug))
        jv_error(&v, "slug", "Use lower-case letters, digits and single hyphens.");
    in->excerpt = jv_str(&v, "excerpt", JV_OPTIONAL, 0, BLOG_EXCERPT_MAX, creating ? "" : NULL);
    in->body = jv_str(&v, "body", JV_OPTIONAL, 0, BLOG_BODY_MAX, creating ? "" : NULL);
    if (jv_has(&v, "published_at")) {
        in->has_published = 1;
        jv_time(&v, "published_at", JV_OPTIONAL | JV_NULLABLE, &in->published_at);
    }
    return jv_done(&v);
}

/* ?drafts=true, honoured for staff only. */
static int with_drafts(struct http_req *req)
{
    const char *d = http_query(req, "drafts");
    return policy_is_staff(req) && d && (!strcmp(d, "true") || !strcmp(d, "1"));
}

/* GET /api/blog/ */
static int blog_index(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct blog_post *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n = 0;

    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = blog_list(req->db, with_drafts(req), &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, blog_to_json(&rows[i]));
        keys[i] = blog_sort_key(&rows[i]);
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/blog/{slug}/ */
static int blog_show(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct blog_post p;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = blog_get(req->db, http_param(req, 0), policy_is_staff(req), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, blog_to_json(&p));
}

/* The audit's actor (the role is checked by policy_staff before any write). */
static struct audit_actor staff_actor(const struct http_req *req)
{
    return (struct audit_actor){req->user ? req->user->id : NULL,
                                req->user ? auth_role_name(req->user->role) : NULL};
}

/* POST /api/blog/ */
static int blog_post_create(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor actor = staff_actor(req);
    struct blog_post p;
    struct blog_in in;
    int err;

    if ((err = policy_staff(req, &ei)) || (err = parse_in(req, 1, &in, &ei)) ||
        (err = blog_create(req->db, &actor, &in, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, blog_to_json(&p));
}

/* PATCH /api/blog/{slug}/ */
static int blog_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor actor = staff_actor(req);
    struct blog_post p;
    struct blog_in in;
    int err;

    if ((err = policy_staff(req, &ei)) || (err = parse_in(req, 0, &in, &ei)) ||
        (err = blog_update(req->db, &actor, http_param(req, 0), &in, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, blog_to_json(&p));
}

/* DELETE /api/blog/{slug}/ */
static int blog_remove(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor actor = staff_actor(req);
    int err;

    if ((err = policy_staff(req, &ei)) || (err = blog_delete(req->db, &actor, http_param(req, 0), &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

void blog_http_register(struct router *r)
{
    http_route(r, "GET", "/api/blog/", blog_index, 0, "published blog posts, newest first");
    http_route(r, "POST", "/api/blog/", blog_post_create, ROUTE_AUTH, "write a blog post (staff)");
    http_route(r, "GET", "/api/blog/{slug}/", blog_show, 0, "one published blog post");
    http_route(r, "PATCH", "/api/blog/{slug}/", blog_patch, ROUTE_AUTH,
               "update a blog post (staff)");
    http_route(r, "DELETE", "/api/blog/{slug}/", blog_remove, ROUTE_AUTH,
               "delete a blog post (staff)");
}
