/* projects_http.c - /api/projects/..., /api/specialists/... and
 * /api/favorites/ handlers (API.md § Home services).
 *
 * Shape: authorize (auth/policy.h; object checks after reading the object)
 * → parse (jv_*; a multipart body's text fields become a JSON object first,
 * so both bodies share one validator) → probe and store the files (media.h)
 * → domain (projects.h) → respond. Lists page by an offset kept in the
 * opaque cursor (orderings are comma lists of several keys). No SQL here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/policy.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "http/http.h"
#include "media/media.h"
#include "projects/projects.h"
#include "projects/specialists.h"
#include "projects/view.h"

/* ---- paging by offset ------------------------------------------------------------------ */

int view_page(struct http_req *req, struct page *pg, int64_t *offset, struct souk_errinfo *ei)
{
    int err = page_parse(req, pg, ei);
    *offset = 0;
    if (err || !pg->cursor)
        return err;
    json_t *o = json_object_get(pg->cursor, "o");
    if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > 100000000) {
        souk_errinfo_field(ei, "cursor", "invalid cursor");
        return souk_fail(ei, SOUK_INVALID, "invalid cursor");
    }
    *offset = json_integer_value(o);
    return 0;
}

/* rows has up to pg->size + 1 entries: the extra one says there is a next page. */
json_t *view_envelope(struct http_req *req, const struct page *pg, int64_t offset, json_t *rows)
{
    const char *next = NULL, *prev = NULL;
    if (json_array_size(rows) > (size_t)pg->size) {
        json_array_remove(rows, (size_t)pg->size);
        json_t *c = json_pack("{s:I}", "o", (json_int_t)(offset + pg->size));
        next = page_cursor_encode(req, c);
        json_decref(c);
    }
    if (offset > 0) {
        json_t *c = json_pack("{s:I}", "o", (json_int_t)(offset > pg->size ? offset - pg->size : 0));
        prev = page_cursor_encode(req, c);
        json_decref(c);
    }
    return page_envelope(req, rows, next, prev);
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static const char *ext_of(const char *content_type)
{
    if (strcmp(content_type, "image/png") == 0)
        return "png";
    if (strcmp(content_type, "image/webp") == 0)
        return "webp";
    if (strcmp(content_type, "application/pdf") == 0)
        return "pdf";
    return "jpg";
}

static json_t *media_url(struct http_req *req, const struct project_media *m, int thumb)
{
    char buf[1024];
    if (thumb && !m->thumb_hash)
        return json_null();
    snprintf(buf, sizeof buf, "%s/media/%s%s.%s", http_base_url(req), m->id,
             thumb ? "-thumb" : "", ext_of(m->content_type));
    return json_string(buf);
}

static json_t *media_json(struct http_req *req, const struct project_media *m)
{
    int image = strcmp(m->kind, "image") == 0;
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:i}", "id", m->id, "kind",
                     m->kind, "content_type", m->content_type, "url",
                     media_url(req, m, 0), "thumbnail_url",
                     image ? media_url(req, m, 1) : json_null(),
                     "width", image ? json_integer(m->width) : json_null(), "height",
                     image ? json_integer(m->height) : json_null(), "size", (json_int_t)m->size,
                     "position", m->position);
}

static json_t *json_array_text(const char *text)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static json_t *until_json(int64_t until, int64_t now)
{
    return until > now ? json_time(until) : json_null();
}

json_t *view_project(struct http_req *req, const struct project *p)
{
    int64_t now = clock_now_us();
    json_t *media = json_array();
    for (int i = 0; i < p->nmedia; i++)
        json_array_append_new(media, media_json(req, &p->media[i]));
    json_t *sp = json_pack("{s:s, s:s, s:b, s:b}", "id", p->vendor_id, "business_name",
                           p->sp_name, "is_verified", p->sp_verified, "is_pro",
                           p->sp_pro_until > now);
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "id",
                          p->id, "specialist_id", p->vendor_id, "specialist", sp, "title",
                          p->title, "description", p->description, "category", p->category,
                          "city", p->city, "tags", json_array_text(p->tags), "area_m2",
                          p->has_area ? json_real(p->area_m2) : json_null(), "budget",
                          p->has_budget ? money_to_json(p->budget) : json_null(), "currency",
                          p->currency, "media", media);
    json_object_set_new(j, "view_count", json_integer(p->view_count));
    json_object_set_new(j, "favorite_count", json_integer(p->favorite_count));
    json_object_set_new(j, "is_favorite", json_boolean(p->is_favorite));
    json_object_set_new(j, "is_top", json_boolean(p->top_until > now));
    json_object_set_new(j, "top_until", until_json(p->top_until, now));
    json_object_set_new(j, "is_detailed", json_boolean(p->detailed_until > now));
    json_object_set_new(j, "detailed_until", until_json(p->detailed_until, now));
    json_object_set_new(j, "is_hidden", json_boolean(p->hidden_at != 0));
    json_object_set_new(j, "created_at", json_time(p->created_at));
    json_object_set_new(j, "updated_at", json_time(p->updated_at));
    return j;
}

json_t *view_specialist(const struct specialist *s)
{
    int64_t now = clock_now_us();
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:b, s:o}", "id", s->id,
                          "user_id", s->user_id, "business_name", s->business_name, "address",
                          s->address, "bio", s->bio, "specialties",
                          json_array_text(s->specialties), "city", s->city, "categories",
                          json_array_text(s->categories), "is_verified", s->is_verified,
                          "created_at", json_time(s->created_at));
    double avg = s->review_count > 0 ? (double)s->rating_sum / (double)s->review_count : 0;
    json_object_set_new(j, "rating_avg", s->review_count > 0
                                             ? json_real((double)(int64_t)(avg * 100 + 0.5) / 100)
                                             : json_null());
    json_object_set_new(j, "review_count", json_integer(s->review_count));
    json_object_set_new(j, "project_count", json_integer(s->project_count));
    json_object_set_new(j, "completed_requests", json_integer(s->completed_requests));
    json_object_set_new(j, "is_pro", json_boolean(s->pro_until > now));
    json_object_set_new(j, "pro_until", until_json(s->pro_until, now));
    json_object_set_new(j, "favorite_count", json_integer(s->favorite_count));
    json_object_set_new(j, "view_count", json_integer(s->view_count));
    json_object_set_new(j, "is_favorite", json_boolean(s->is_favorite));
    return j;
}

const char *view_viewer_key(struct http_req *req)
{
    if (req->user)
        return req->user->id;
    size_t n = strlen(req->client_ip ? req->client_ip : "") + 4;
    char *k = arena_alloc(req->arena, n);
    snprintf(k, n, "ip:%s", req->client_ip ? req->client_ip : "");
    return k;
}

/* ---- specialists ---------------------------------------------------------------------------- */

/* GET /api/specialists/ */
static int specialists_index(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct specialist_filter f = {.is_pro = -1};
    struct specialist *rows;
    struct page pg;
    int n, err;
    const char *pro = nonempty(http_query(req, "is_pro"));
    if ((err = policy_anyone(req, &ei)) || (err = view_page(req, &pg, &f.offset, &ei)) ||
        (err = specialists_order_sql(http_query(req, "ordering"), req->arena, &f.order_sql,
                                     &ei)))
        return http_problem(req, err, &ei);
    if (pro && strcmp(pro, "true") && strcmp(pro, "false")) {
        souk_errinfo_field(&ei, "is_pro", "Must be true or false.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "is_pro: true or false"), &ei);
    }
    f.is_pro = pro ? strcmp(pro, "true") == 0 : -1;
    f.city = nonempty(http_query(req, "city"));
    f.category = nonempty(http_query(req, "category"));
    f.q = nonempty(http_query(req, "q"));
    f.limit = pg.size + 1;
    if ((err = specialists_list(http_read_db(req), &f, req->user ? req->user->id : NULL, req->arena, &rows,
                                &n, &ei)))
        return http_problem(req, err, &ei);
    json_t *results = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(results, view_specialist(&rows[i]));
    return http_json(req, 200, view_envelope(req, &pg, f.offset, results));
}

/* GET /api/specialists/{id}/ (counts a profile view) */
static int specialists_detail(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct specialist s;
    int err, counted;
    if ((err = policy_anyone(req, &ei)) ||
        (err = specialists_get(req->db, http_param(req, 0), req->user ? req->user->id : NULL,
                               req->arena, &s, &ei)))
        return http_problem(req, err, &ei);
    counted = specialists_count_view(req->db, &s, view_viewer_key(req),
                                     req->user ? req->user->id : NULL, &ei);
    if (counted < 0)
        return http_problem(req, SOUK_INTERNAL, &ei);
    s.view_count += counted;
    return http_json(req, 200, view_specialist(&s));
}

/* ---- favorites --------------------------------------------------------------------------- */

static int favorite_put(struct http_req *req, const char *type)
{
    struct souk_errinfo ei = {0};
    int64_t count = 0;
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = showcase_favorite_put(req->db, req->user->id, type, http_param(req, 0), &count,
                                     &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, json_pack("{s:b, s:I}", "is_favorite", 1, "favorite_count",
                                         (json_int_t)count));
}

static int favorite_delete(struct http_req *req, const char *type)
{
    struct souk_errinfo ei = {0};
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = showcase_favorite_delete(req->db, req->user->id, type, http_param(req, 0), &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

static int project_fav_put(struct http_req *req) { return favorite_put(req, "project"); }
static int project_fav_delete(struct http_req *req) { return favorite_delete(req, "project"); }
static int specialist_fav_put(struct http_req *req) { return favorite_put(req, "specialist"); }
static int specialist_fav_delete(struct http_req *req)
{
    return favorite_delete(req, "specialist");
}

static json_t *favorite_target(struct http_req *req, const struct favorite_row *f)
{
    struct souk_errinfo ei = {0};
    const char *viewer = req->user->id;
    json_t *t = NULL;
    if (strcmp(f->target_type, "project") == 0) {
        struct project p;
        if (!projects_get(req->db, f->target_id, viewer, req->arena, &p, &ei) && !p.hidden_at)
            t = view_project(req, &p);
    } else {
        struct specialist s;
        if (!specialists_get(req->db, f->target_id, viewer, req->arena, &s, &ei))
            t = view_specialist(&s);
    }
    souk_errinfo_cleanup(&ei);
    return t;
}

/* GET /api/favorites/?type= */
static int favorites_index(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct favorite_row *rows;
    struct page pg;
    int64_t offset;
    int n, err;
    const char *type = nonempty(http_query(req, "type"));
    if ((err = policy_user(req, &ei)) || (err = view_page(req, &pg, &offset, &ei)))
        return http_problem(req, err, &ei);
    if (type && strcmp(type, "project") && strcmp(type, "specialist")) {
        souk_errinfo_field(&ei, "type", "Must be project or specialist.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "type: project or specialist"),
                            &ei);
    }
    if ((err = showcase_favorites(req->db, req->user->id, type, offset, pg.size + 1, req->arena,
                                  &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    json_t *results = json_array();
    for (int i = 0; i < n; i++) {
        json_t *t = favorite_target(req, &rows[i]);
        json_array_append_new(results,
                              json_pack("{s:s, s:o, s:o}", "target_type", rows[i].target_type,
                                        "target", t ? t : json_null(), "created_at",
                                        json_time(rows[i].created_at)));
    }
    return http_json(req, 200, view_envelope(req, &pg, offset, results));
}

/* ---- statistics ---------------------------------------------------------------------------- */

static int stats_respond(struct http_req *req, const char *target)
{
    struct souk_errinfo ei = {0};
    struct stat_day days[30];
    const char *d = nonempty(http_query(req, "days"));
    int n = !d ? 7 : strcmp(d, "7") == 0 ? 7 : strcmp(d, "30") == 0 ? 30 : 0;
    int err;
    if (!n) {
        souk_errinfo_field(&ei, "days", "Must be 7 or 30.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "days: 7 or 30"), &ei);
    }
    if ((err = showcase_stats(req->db, target, n, days, &ei)))
        return http_problem(req, err, &ei);
    json_t *series = json_array();
    int64_t tv = 0, tf = 0, tr = 0;
    for (int i = 0; i < n; i++) {
        char date[16];
        time_t t = (time_t)(days[i].day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        json_array_append_new(series, json_pack("{s:s, s:I, s:I, s:I}", "date", date, "views",
                                                (json_int_t)days[i].views, "favorites",
                                                (json_int_t)days[i].favorites, "requests",
                                                (json_int_t)days[i].requests));
        tv += days[i].views;
        tf += days[i].favorites;
        tr += days[i].requests;
    }
    return http_json(req, 200,
                     json_pack("{s:i, s:o, s:{s:I, s:I, s:I}}", "days", n, "series", series,
                               "totals", "views", (json_int_t)tv, "favorites", (json_int_t)tf,
                               "requests", (json_int_t)tr));
}

/* GET /api/specialists/me/statistics/ */
static int specialists_me_stats(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char vendor[37];
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = projects_specialist_of(req->db, req->user->id, vendor, &ei)))
        return http_problem(req, err, &ei);
    return stats_respond(req, vendor);
}

/* GET /api/projects/{id}/statistics/ */
static int project_stats(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project p;
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = projects_get(req->db, http_param(req, 0), NULL, req->arena, &p, &ei)) ||
        (err = policy_owner_or_admin(req, p.owner_user_id, &ei)))
        return http_problem(req, err, &ei);
    return stats_respond(req, p.id);
}

void projects_http_register(struct router *r)
{
    http_route(r, "GET", "/api/specialists/", specialists_index, 0,
               "Specialists with ratings, counts and PRO status");
    http_route(r, "GET", "/api/specialists/me/statistics/", specialists_me_stats, ROUTE_AUTH,
               "Daily statistics of the caller's profile and projects");
    http_route(r, "GET", "/api/specialists/{id}/", specialists_detail, 0,
               "One specialist (counts a profile view)");
    http_route(r, "PUT", "/api/specialists/{id}/favorite/", specialist_fav_put, ROUTE_AUTH,
               "Add a specialist to the caller's favorites");
    http_route(r, "DELETE", "/api/specialists/{id}/favorite/", specialist_fav_delete,
               ROUTE_AUTH, "Remove a specialist from the caller's favorites");
    http_route(r, "PUT", "/api/projects/{id}/favorite/", project_fav_put, ROUTE_AUTH,
               "Add a project to the caller's favorites");
    http_route(r, "DELETE", "/api/projects/{id}/favorite/", project_fav_delete, ROUTE_AUTH,
               "Remove a project from the caller's favorites");
    http_route(r, "GET", "/api/projects/{id}/statistics/", project_stats, ROUTE_AUTH,
               "Daily statistics of a project");
    http_route(r, "GET", "/api/favorites/", favorites_index, ROUTE_AUTH,
               "The caller's favorites, newest first");
    projects_http_register_crud(r);
}
