/* sec_blog.c - /admin/blog/: write, schedule, preview and publish blog posts
 * (staff: ADMIN and MODERATOR).
 *
 * API.md § "Admin console" (blog) and § "Home services" (/api/blog/). Every
 * write goes through blog_create / blog_update / blog_delete, the functions
 * behind POST and PATCH /api/blog/ (same slug rules, same audit entries
 * blog.create, blog.update, blog.delete). A post's state follows from
 * published_at by the server's clock: draft (none), scheduled (later),
 * published. Times in the forms are UTC. The preview renders the Markdown
 * with libcmark in safe mode (markdown.h): raw HTML and javascript: links
 * never reach the page.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/markdown.h"
#include "blog/blog.h"
#include "core/arena.h"
#include "core/clock.h"

#define COLS "b.id, b.slug, b.title, b.excerpt, b.body, b.published_at, b.created_at, "       \
             "b.updated_at, u.email AS author_email, CASE WHEN b.published_at IS NULL THEN "   \
             "'draft' WHEN b.published_at > $1 THEN 'scheduled' ELSE 'published' END AS state"
#define FROM "FROM blog_posts b LEFT JOIN users u ON u.id = b.author_id "
#define KEY "COALESCE(b.published_at, b.created_at)"

/* "2026-12-06T10:30:00" (an <input type="datetime-local"> value, UTC) */
static void local_input(json_t *row)
{
    const char *v = json_string_value(json_object_get(row, "published_at"));
    char out[CLOCK_RFC3339_LEN];
    if (!v)
        return;
    clock_format(strtoll(v, NULL, 10), out);
    out[19] = '\0';
    json_object_set_new(row, "published_input", json_string(out));
}

static void fix(json_t *row)
{
    local_input(row);
    admin_fmt_time(row, "published_at");
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "updated_at");
}

static int blog_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *state = admin_arg(ax, "state");
    static const char *const states[] = {"draft", "scheduled", "published", NULL};

    json_object_set_new(ax->page, "states", admin_options(states, state));
    return admin_list_sql(ax,
                          "SELECT " COLS ", " KEY " AS _k " FROM
                          "WHERE ($2 = '' OR lower(b.title) LIKE lower($2)) AND ($3 = '' OR "
                          "($3 = 'draft' AND b.published_at IS NULL) OR ($3 = 'scheduled' AND "
                          "b.published_at > $1) OR ($3 = 'published' AND b.published_at <= $1))",
                          KEY, "b.id",
                          DB_PARAMS(DBI(clock_now_us()),
                                    DBT(admin_like_prefix(ax, admin_arg(ax, "q"))), DBT(state)),
                          fix, ei);
}

/* The edit form shows what was typed when a POST comes back (a preview, a
 * refused save), else the stored post. */
static int blog_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " " FROM "WHERE b.id = $2",
                            DB_PARAMS(DBI(clock_now_us()), DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_t *edit = json_deep_copy(row);
    if (ax->form && json_object_get(ax->form, "body")) {
        static const char *const keys[] = {"title", "slug", "excerpt", "body", NULL};
        for (int i = 0; keys[i]; i++)
            json_object_set_new(edit, keys[i], json_string(admin_field(ax, keys[i])));
        json_object_set_new(edit, "published_input",
                            json_string(admin_field(ax, "published_at")));
    }
    const char *body = json_string_value(json_object_get(edit, "body"));
    char *html = admin_markdown_html(body ? body : "", body ? strlen(body) : 0);
    ax->preview = arena_strdup(admin_arena(ax), html);
    free(html);
    json_object_set_new(ax->page, "post", row);
    json_object_set_new(ax->page, "edit", edit);
    return SOUK_OK;
}

/* A browser submits a textarea's lines with CRLF; the API stores LF. */
static const char *lf_only(struct admin_ctx *ax, const char *v)
{
    char *out = arena_strdup(admin_arena(ax), v), *w = out;
    for (const char *r = v; *r; r++)
        if (!(r[0] == '\r' && r[1] == '\n'))
            *w++ = *r;
    *w = '\0';
    return out;
}

/* published_at of a form: "" is a draft; a datetime-local value is UTC. */
static int form_time(const char *v, struct blog_in *in, struct souk_errinfo *ei)
{
    char buf[64];
    size_t n = strlen(v);

    in->has_published = 1;
    in->published_at = 0;
    if (n == 0)
        return SOUK_OK;
    snprintf(buf, sizeof buf, "%s%s", v, n == 16 ? ":00Z" : n == 19 ? "Z" : "");
    if (n >= sizeof buf - 4 || clock_parse(buf, &in->published_at) || in->published_at <= 0) {
        souk_errinfo_field(ei, "published_at", "Use a date and time (UTC), or leave it empty.");
        return souk_fail(ei, SOUK_INVALID, "Publication time: use a date and time (UTC).");
    }
    return SOUK_OK;
}

/* The form as the blog's input; blog_create/blog_update check its rules. */
static int form_in(struct admin_ctx *ax, struct blog_in *in, struct souk_errinfo *ei)
{
    const char *slug = admin_field(ax, "slug");

    memset(in, 0, sizeof *in);
    in->title = admin_field(ax, "title");
    in->slug = *slug ? slug : NULL;
    in->excerpt = admin_field(ax, "excerpt");
    in->body = lf_only(ax, admin_field(ax, "body"));
    return form_time(admin_field(ax, "published_at"), in, ei);
}

/* The slug of the page's post (the console's URLs carry the id). */
static int slug_of(struct admin_ctx *ax, const char **slug, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT slug FROM blog_posts WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    *slug = arena_strdup(admin_arena(ax), json_string_value(json_object_get(row, "slug")));
    json_decref(row);
    return SOUK_OK;
}

/* POST /admin/blog/ : a new post (a draft unless a time is given). */
static int create(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct blog_post p;
    struct blog_in in;
    int err = form_in(ax, &in, ei);

    if (err || (err = blog_create(admin_db(ax), &who, &in, admin_arena(ax), &p, ei)))
        return err;
    ax->id = arena_strdup(admin_arena(ax), p.id);
    return SOUK_OK;
}

static int save(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct blog_post p;
    struct blog_in in;
    const char *slug;
    int err = form_in(ax, &in, ei);

    if (err || (err = slug_of(ax, &slug, ei)))
        return err;
    return blog_update(admin_db(ax), &who, slug, &in, admin_arena(ax), &p, ei);
}

/* Publish now (0) or take back to a draft (-1), nothing else changed. */
static int set_published(struct admin_ctx *ax, int now, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct blog_in in = {.has_published = 1, .published_at = now ? clock_now_us() : 0};
    struct blog_post p;
    const char *slug;
    int err = slug_of(ax, &slug, ei);

    return err ? err : blog_update(admin_db(ax), &who, slug, &in, admin_arena(ax), &p, ei);
}

static int publish(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return set_published(ax, 1, ei);
}

static int unpublish(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return set_published(ax, 0, ei);
}

/* Changes nothing: the detail page renders the typed text (blog_detail);
 * text that Save would refuse is refused here too. */
static int preview(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct blog_in in;
    int err = form_in(ax, &in, ei);
    return err ? err : blog_check(&in, 0, ei);
}

static int delete_post(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    const char *slug;
    int err = slug_of(ax, &slug, ei);
    return err ? err : blog_delete(admin_db(ax), &who, slug, ei);
}

static const struct admin_action actions[] = {
    {"save", ADMIN_R_STAFF, save, "Post saved.", 0},
    {"preview", ADMIN_R_STAFF, preview, "Preview of the unsaved text below; nothing was saved.",
     ADMIN_ACT_RENDER},
    {"publish", ADMIN_R_STAFF, publish, "Post published.", 0},
    {"unpublish", ADMIN_R_STAFF, unpublish, "Post taken back to a draft.", 0},
    {"delete", ADMIN_R_STAFF, delete_post, "Post deleted.", ADMIN_ACT_TO_LIST},
    {NULL, 0, NULL, NULL, 0},
};

static const struct admin_action new_post = {"new", ADMIN_R_STAFF, create, "Post created.", 0};

const struct admin_section admin_sec_blog = {
    .slug = "blog", .title = "Blog", .roles = ADMIN_R_STAFF,
    .list = blog_list_page, .detail = blog_detail, .actions = actions, .list_post = &new_post,
};
