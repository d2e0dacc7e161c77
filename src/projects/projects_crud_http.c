/* projects_crud_http.c - POST/GET /api/projects/, /api/projects/my/ and
 * GET/PATCH/DELETE /api/projects/{id}/ (API.md § Home services).
 *
 * A multipart body's text fields become a JSON object (repeatable `tags`
 * and `delete_media` as arrays, `area_m2` as a number when it reads as
 * one), so JSON and multipart bodies share one validator. Files are checked
 * in this order before anything is stored: count bound, size (413, found
 * while streaming), type from the bytes and decoding (415); only then are
 * they stored by hash, and removed again when the transaction fails, so a
 * failing request changes nothing. No SQL here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "http/http.h"
#include "media/media.h"
#include "projects/projects.h"
#include "projects/specialists.h"
#include "projects/view.h"

struct body {
    json_t *obj;                         /* text fields (kept by the request) */
    const struct http_part *files[PROJECT_MEDIA_MAX + 1];
    int nfiles;                          /* media parts (counted past the max) */
    struct project_file stored[PROJECT_MEDIA_MAX];
    const char *del[64];
    int ndel;
};

static void form_put(json_t *obj, const struct http_part *p)
{
    if (strcmp(p->name, "tags") == 0 || strcmp(p->name, "delete_media") == 0) {
        json_t *a = json_object_get(obj, p->name);
        if (!a) {
            a = json_array();
            json_object_set_new(obj, p->name, a);
        }
        json_array_append_new(a, json_string(p->value));
        return;
    }
    if (strcmp(p->name, "area_m2") == 0) {
        char *end = NULL;
        double d = strtod(p->value, &end);
        if (*p->value && end && !*end) {
            json_object_set_new(obj, p->name, json_real(d));
            return;
        }
    }
    json_object_set_new(obj, p->name, json_string(p->value));
}

/* The body: multipart (fields + media parts) or JSON (PATCH without files). */
static int body_read(struct http_req *req, struct body *b, struct souk_errinfo *ei)
{
    const struct http_part *parts;
    int n, err;
    memset(b, 0, sizeof *b);
    if (!http_is_multipart(req))
        return http_body_json(req, &b->obj, ei);
    if ((err = http_multipart(req, &parts, &n, ei)))
        return err;
    b->obj = http_keep(req, json_object());
    for (int i = 0; i < n; i++) {
        if (!parts[i].filename)
            form_put(b->obj, &parts[i]);
        else if (strcmp(parts[i].name, "media") == 0 && b->nfiles++ < PROJECT_MEDIA_MAX)
            b->files[b->nfiles - 1] = &parts[i];
    }
    return 0;
}

static void area_field(struct jv *v, struct project_in *in)
{
    json_t *a = json_object_get(v->obj, "area_m2");
    if (!jv_has(v, "area_m2"))
        return;
    in->has_area = 1;
    if (json_is_null(a))
        in->area_null = 1;
    else if (!json_is_number(a) || json_number_value(a) <= 0 || json_number_value(a) > 1e9)
        jv_error(v, "area_m2", "A number greater than 0.");
    else
        in->area_m2 = json_number_value(a);
}

static void budget_field(struct jv *v, struct project_in *in)
{
    if (!jv_has(v, "budget"))
        return;
    in->has_budget = 1;
    if (json_is_null(json_object_get(v->obj, "budget")) ||
        (json_is_string(json_object_get(v->obj, "budget")) &&
         !*json_string_value(json_object_get(v->obj, "budget")))) {
        in->budget_null = 1;
        return;
    }
    in->budget = jv_money(v, "budget", JV_OPTIONAL, 0, INT64_C(100000000000), 0);
}

static int fields_parse(struct body *b, int create, struct project_in *in,
                        struct souk_errinfo *ei)
{
    struct jv v;
    memset(in, 0, sizeof *in);
    jv_begin(&v, b->obj, ei);
    in->title = jv_str(&v, "title", create ? JV_REQUIRED : 0, 1, PROJECT_TITLE_MAX, NULL);
    in->description = jv_str(&v, "description", 0, 0, PROJECT_TEXT_MAX, NULL);
    in->category = jv_str(&v, "category", 0, 0, SPECIALIST_SLUG_MAX, NULL);
    in->city = jv_str(&v, "city", 0, 0, 200, NULL);
    in->currency = jv_str(&v, "currency", 0, 3, 3, NULL);
    if (in->currency && !currency_valid(in->currency))
        jv_error(&v, "currency", "A lower-case ISO 4217 code.");
    in->tags = jv_str_array(&v, "tags", 0, PROJECT_TAGS_MAX, 1, SPECIALIST_SLUG_MAX);
    if (in->tags && !specialist_slugs_valid(in->tags))
        jv_error(&v, "tags", "Each tag is a slug of a-z, 0-9 and '-'.");
    area_field(&v, in);
    budget_field(&v, in);
    const json_t *del = jv_str_array(&v, "delete_media", 0, 64, 1, 64);
    for (size_t i = 0; del && i < json_array_size(del); i++)
        b->del[b->ndel++] = json_string_value(json_array_get(del, i));
    return jv_done(&v);
}

/* Probes every file (415), then stores them all; on failure nothing stays. */
static int files_store(struct body *b, struct souk_errinfo *ei)
{
    int err = 0;
    for (int i = 0; i < b->nfiles && !err; i++) {
        struct project_file *f = &b->stored[i];
        snprintf(f->sha256, sizeof f->sha256, "%s", b->files[i]->sha256);
        err = media_probe(b->files[i]->path, &f->info, ei);
    }
    for (int i = 0; i < b->nfiles && !err; i++)
        if ((err = media_store(b->files[i]->path, b->stored[i].sha256, &b->stored[i].created,
                               ei)))
            projects_files_discard(b->stored, i);
    return err;
}

static int count_error(struct souk_errinfo *ei)
{
    souk_errinfo_field(ei, "media", "A project has 1 to 12 files.");
    return souk_fail(ei, SOUK_INVALID, "A project has 1 to 12 files.");
}

/* POST /api/projects/ (multipart/form-data) */
static int projects_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project_in in;
    struct project p;
    struct body b;
    char vendor[37];
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = projects_specialist_of(req->db, req->user->id, vendor, &ei)))
        return http_problem(req, err, &ei);
    if (!http_is_multipart(req))
        return http_problem(req, souk_fail(&ei, SOUK_UNSUPPORTED,
                                           "A project is created with multipart/form-data."),
                            &ei);
    if ((err = body_read(req, &b, &ei)) || (err = fields_parse(&b, 1, &in, &ei)))
        return http_problem(req, err, &ei);
    if (b.nfiles < 1 || b.nfiles > PROJECT_MEDIA_MAX)
        return http_problem(req, count_error(&ei), &ei);
    if ((err = files_store(&b, &ei)))
        return http_problem(req, err, &ei);
    if ((err = projects_create(req->db, vendor, &in, b.stored, b.nfiles, req->arena, &p, &ei))) {
        projects_files_discard(b.stored, b.nfiles);
        return http_problem(req, err, &ei);
    }
    return http_json(req, 201, view_project(req, &p));
}

/* The project for its owner or ADMIN (others: 403; hidden ones: 404 to non-staff). */
static int owned(struct http_req *req, struct project *p, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);
    if (!err)
        err = projects_get(req->db, http_param(req, 0), NULL, req->arena, p, ei);
    if (!err && p->hidden_at && !policy_is_staff(req) &&
        strcmp(req->user->id, p->owner_user_id) != 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    return err ? err : policy_owner_or_admin(req, p->owner_user_id, ei);
}

/* PATCH /api/projects/{id}/ (multipart, or JSON without files) */
static int projects_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project_in in;
    struct project p;
    struct body b;
    int err;
    if ((err = owned(req, &p, &ei)) || (err = body_read(req, &b, &ei)) ||
        (err = fields_parse(&b, 0, &in, &ei)))
        return http_problem(req, err, &ei);
    if (b.nfiles > PROJECT_MEDIA_MAX || p.nmedia - b.ndel + b.nfiles > PROJECT_MEDIA_MAX ||
        p.nmedia - b.ndel + b.nfiles < 1)
        return http_problem(req, count_error(&ei), &ei);
    if ((err = files_store(&b, &ei)))
        return http_problem(req, err, &ei);
    if ((err = projects_update(req->db, p.id, &in, b.stored, b.nfiles, b.del, b.ndel,
                               req->arena, &p, &ei))) {
        projects_files_discard(b.stored, b.nfiles);
        return http_problem(req, err, &ei);
    }
    return http_json(req, 200, view_project(req, &p));
}

/* DELETE /api/projects/{id}/ */
static int projects_del(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project p;
    int err;
    if ((err = owned(req, &p, &ei)) || (err = projects_delete(req->db, p.id, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* GET /api/projects/{id}/ (counts a view) */
static int projects_detail(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project p;
    const char *viewer = req->user ? req->user->id : NULL;
    int err;
    if ((err = policy_anyone(req, &ei)) ||
        (err = projects_get(http_read_db(req), http_param(req, 0), viewer, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    if (p.hidden_at && !policy_is_staff(req) && !(viewer && strcmp(viewer, p.owner_user_id) == 0))
        return http_problem(req, souk_fail(&ei, SOUK_NOT_FOUND, "No such project."), &ei);
    int counted = projects_count_view(req->db, &p, view_viewer_key(req), viewer, &ei);
    if (counted < 0)
        return http_problem(req, SOUK_INTERNAL, &ei);
    p.view_count += counted;
    return http_json(req, 200, view_project(req, &p));
}

static int list_respond(struct http_req *req, struct project_filter *f, struct page *pg)
{
    struct souk_errinfo ei = {0};
    struct project *rows;
    int n, err;
    f->limit = pg->size + 1;
    if ((err = projects_list(http_read_db(req), f, req->user ? req->user->id : NULL, req->arena, &rows, &n,
                             &ei)))
        return http_problem(req, err, &ei);
    json_t *results = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(results, view_project(req, &rows[i]));
    return http_json(req, 200, view_envelope(req, pg, f->offset, results));
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* GET /api/projects/ */
static int projects_index(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project_filter f = {0};
    struct page pg;
    int err;
    if ((err = policy_anyone(req, &ei)) || (err = view_page(req, &pg, &f.offset, &ei)) ||
        (err = projects_order_sql(http_query(req, "ordering"), req->arena, &f.order_sql, &ei)))
        return http_problem(req, err, &ei);
    f.category = nonempty(http_query(req, "category"));
    f.city = nonempty(http_query(req, "city"));
    f.vendor_id = nonempty(http_query(req, "specialist"));
    f.q = nonempty(http_query(req, "q"));
    f.ntags = http_query_all(req, "tags", f.tags, PROJECT_TAGS_MAX);
    if (f.vendor_id && !uuid_valid(f.vendor_id))
        return http_json(req, 200, page_envelope(req, json_array(), NULL, NULL));
    return list_respond(req, &f, &pg);
}

/* GET /api/projects/my/ */
static int projects_my(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct project_filter f = {.include_hidden = 1};
    char vendor[37];
    struct page pg;
    int err;
    if ((err = policy_user(req, &ei)) ||
        (err = projects_specialist_of(req->db, req->user->id, vendor, &ei)) ||
        (err = view_page(req, &pg, &f.offset, &ei)) ||
        (err = projects_order_sql(http_query(req, "ordering"), req->arena, &f.order_sql, &ei)))
        return http_problem(req, err, &ei);
    f.vendor_id = vendor;
    return list_respond(req, &f, &pg);
}

void projects_http_register_crud(struct router *r)
{
    http_route(r, "GET", "/api/projects/", projects_index, 0,
               "Projects, TOP first by default; filters and ordering");
    http_route(r, "POST", "/api/projects/", projects_post, ROUTE_AUTH | ROUTE_MULTIPART,
               "Create a project with 1-12 files (multipart/form-data)");
    http_route(r, "GET", "/api/projects/my/", projects_my, ROUTE_AUTH,
               "The caller's projects, hidden ones included");
    http_route(r, "GET", "/api/projects/{id}/", projects_detail, 0,
               "One project (counts a view)");
    http_route(r, "PATCH", "/api/projects/{id}/", projects_patch, ROUTE_AUTH | ROUTE_MULTIPART,
               "Update a project: fields, files added and removed in one request");
    http_route(r, "DELETE", "/api/projects/{id}/", projects_del, ROUTE_AUTH,
               "Delete a project and its media");
}
