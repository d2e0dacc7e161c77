/* blog.c - blog posts: slugs, publication by the server's clock, SQL
 * (API.md § Home services, /api/blog/...). See blog.h.
 *
 * Thread safety: no shared state.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "blog/blog.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"

#define POST_COLS                                                                         \
    "b.id, b.slug, b.title, b.excerpt, b.body, b.author_id, u.first_name, u.last_name, "   \
    "b.published_at, b.created_at, b.updated_at"
#define POST_FROM " FROM blog_posts b LEFT JOIN users u ON u.id = b.author_id"
#define SORT_KEY "COALESCE(b.published_at, b.created_at)"

int blog_slug_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > BLOG_SLUG_MAX || s[0] == '-' || s[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && s[i + 1] == '-')
            return 0;
    }
    return 1;
}

void blog_slug_from_title(const char *title, char out[BLOG_SLUG_MAX + 1])
{
    size_t j = 0;
    int dash = 0;

    for (const char *p = title ? title : ""; *p && j < BLOG_SLUG_MAX; p++) {
        int c = (unsigned char)*p;
        if (c < 128 && isalnum(c)) {
            if (dash && j > 0 && j < BLOG_SLUG_MAX - 1)
                out[j++] = '-';
            dash = 0;
            out[j++] = (char)tolower(c);
        } else {
            dash = 1;
        }
    }
    while (j > 0 && out[j - 1] == '-')
        j--;
    out[j] = 0;
    if (!j)
        snprintf(out, BLOG_SLUG_MAX + 1, "post");
}

static void row_to_post(const struct db_res *r, int i, struct arena *a, struct blog_post *p)
{
    const char *first = db_get(r, i, 6), *last = db_get(r, i, 7);

    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", db_get(r, i, 0));
    snprintf(p->slug, sizeof p->slug, "%s", db_get(r, i, 1));
    p->title = arena_strdup(a, db_get(r, i, 2));
    p->excerpt = arena_strdup(a, db_get(r, i, 3));
    p->body = arena_strdup(a, db_get(r, i, 4));
    snprintf(p->author_id, sizeof p->author_id, "%s", db_get(r, i, 5) ? db_get(r, i, 5) : "");
    p->author_name = arena_sprintf(a, "%s%s%s", first ? first : "", last && *last ? " " : "",
                                   last ? last : "");
    p->published_at = db_int(r, i, 8);
    p->created_at = db_int(r, i, 9);
    p->updated_at = db_int(r, i, 10);
}

int64_t blog_sort_key(const struct blog_post *p)
{
    return p->published_at ? p->published_at : p->created_at;
}

struct one_args {
    const char *slug;
    int with_unpublished;
    const struct audit_actor *actor; /* the staff user writing (the author of a new post) */
    const struct blog_in *in;
    struct arena *a;
    struct blog_post *out;
};

static int load(struct db_conn *c, struct one_args *x, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT " POST_COLS POST_FROM " WHERE b.slug = $1 AND ($2 = 1 OR "
                       "(b.published_at IS NOT NULL AND b.published_at <= $3))",
                       DB_PARAMS(DBT(x->slug), DBI(x->with_unpublished), DBI(clock_now_us())),
                       &r, ei);

    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such post.");
    if (!err)
        row_to_post(r, 0, x->a, x->out);
    db_res_free(r);
    return err;
}

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    return load(c, arg, ei);
}

int blog_get(struct db *db, const char *slug, int with_unpublished, struct arena *a,
             struct blog_post *out, struct souk_errinfo *ei)
{
    struct one_args x = {.slug = slug, .with_unpublished = with_unpublished, .a = a, .out = out};
    return db_run(db, get_fn, &x, ei);
}

/* A post's audited fields (the body as its length: it can be long). */
static json_t *post_fields(const struct blog_post *p)
{
    return json_pack("{s:s, s:s, s:I, s:o}", "slug", p->slug, "title", p->title, "body_length",
                     (json_int_t)strlen(p->body ? p->body : ""), "published_at",
                     json_time_or_null(p->published_at, p->published_at == 0));
}

/* blog.create / blog.update / blog.delete, in the write's transaction. */
static int audit_post(struct db_conn *c, const struct one_args *x, const char *action,
                      const struct blog_post *before, const struct blog_post *after,
                      struct souk_errinfo *ei)
{
    json_t *b = before ? post_fields(before) : NULL, *a = after ? post_fields(after) : NULL;
    int err = audit_record(c, x->actor, action, "blog_post", after ? after->id : before->id, b,
                           a, NULL, ei);

    json_decref(b);
    json_decref(a);
    return err;
}

static int slug_taken(struct souk_errinfo *ei)
{
    souk_errinfo_field(ei, "slug", "This slug is in use.");
    return souk_fail(ei, SOUK_CONFLICT, "This slug is in use.");
}

static int create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    const struct blog_in *in = x->in;
    int64_t now = clock_now_us();
    char id[37];
    int err;

    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO blog_posts (id, slug, title, excerpt, body, author_id, "
                  "published_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                  "$8, $8)",
                  DB_PARAMS(DBT(id), DBT(x->slug), DBT(in->title),
                            DBT(in->excerpt ? in->excerpt : ""), DBT(in->body ? in->body : ""),
                            DBT(x->actor->user_id),
                            in->has_published && in->published_at ? DBI(in->published_at)
                                                                  : DBNULL,
                            DBI(now)),
                  NULL, ei);
    if (err == SOUK_CONFLICT)
        return slug_taken(ei);
    x->with_unpublished = 1;
    if (!err)
        err = load(c, x, ei);
    return err ? err : audit_post(c, x, "blog.create", NULL, x->out, ei);
}

static int refuse(struct souk_errinfo *ei, const char *field, const char *why)
{
    souk_errinfo_field(ei, field, why);
    return souk_fail(ei, SOUK_INVALID, "%s", why);
}

/* The rules of every write, whichever door it came through (API or console). */
int blog_check(const struct blog_in *in, int creating, struct souk_errinfo *ei)
{
    if ((creating && !in->title) || (in->title && (!*in->title ||
                                                   strlen(in->title) > BLOG_TITLE_MAX * 4)))
        return refuse(ei, "title", "A title is required (at most 200 characters).");
    if (in->slug && !blog_slug_valid(in->slug))
        return refuse(ei, "slug", "Use lower-case letters, digits and single hyphens.");
    if (in->excerpt && strlen(in->excerpt) > BLOG_EXCERPT_MAX)
        return refuse(ei, "excerpt", "The excerpt is at most 2000 bytes.");
    if (in->body && strlen(in->body) > BLOG_BODY_MAX)
        return refuse(ei, "body", "The body is at most 1000000 bytes.");
    return SOUK_OK;
}

int blog_create(struct db *db, const struct audit_actor *actor, const struct blog_in *in,
                struct arena *a, struct blog_post *out, struct souk_errinfo *ei)
{
    char slug[BLOG_SLUG_MAX + 1];
    struct one_args x = {.actor = actor, .in = in, .a = a, .out = out};
    int err = blog_check(in, 1, ei);

    if (err)
        return err;
    if (!in->slug)
        blog_slug_from_title(in->title, slug);
    x.slug = in->slug ? in->slug : slug;
    return db_tx_run(db, create_tx, &x, ei);
}

static int update_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    const struct blog_in *in = x->in;
    struct blog_post *after = x->out, before;
    int64_t changed = 0;
    int err;

    x->with_unpublished = 1;
    x->out = &before;
    err = load(c, x, ei);
    x->out = after;
    if (err)
        return err;
    err = db_exec(
        c,
        "UPDATE blog_posts SET slug = COALESCE($2, slug), title = COALESCE($3, title), "
        "excerpt = COALESCE($4, excerpt), body = COALESCE($5, body), published_at = CASE WHEN "
        "$6 = 1 THEN $7 ELSE published_at END, updated_at = $8 WHERE slug = $1",
        DB_PARAMS(DBT(x->slug), DBT(in->slug), DBT(in->title), DBT(in->excerpt), DBT(in->body),
                  DBI(in->has_published ? 1 : 0),
                  in->has_published && in->published_at ? DBI(in->published_at) : DBNULL,
                  DBI(clock_now_us())),
        &changed, ei);

    if (err == SOUK_CONFLICT)
        return slug_taken(ei);
    if (!err && !changed)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such post.");
    if (!err && in->slug)
        x->slug = in->slug;
    if (!err)
        err = load(c, x, ei);
    return err ? err : audit_post(c, x, "blog.update", &before, x->out, ei);
}

int blog_update(struct db *db, const struct audit_actor *actor, const char *slug,
                const struct blog_in *in, struct arena *a, struct blog_post *out,
                struct souk_errinfo *ei)
{
    struct one_args x = {.slug = slug, .actor = actor, .in = in, .a = a, .out = out};
    int err = blog_check(in, 0, ei);
    return err ? err : db_tx_run(db, update_tx, &x, ei);
}

static int delete_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *x = arg;
    int64_t changed = 0;
    int err = load(c, x, ei);

    if (!err)
        err = db_exec(c, "DELETE FROM blog_posts WHERE slug = $1", DB_PARAMS(DBT(x->slug)),
                      &changed, ei);
    if (!err && !changed)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such post.");
    return err ? err : audit_post(c, x, "blog.delete", x->out, NULL, ei);
}

int blog_delete(struct db *db, const struct audit_actor *actor, const char *slug,
                struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct blog_post before;
    struct one_args x = {.slug = slug, .with_unpublished = 1, .actor = actor, .a = a,
                         .out = &before};
    int err = db_tx_run(db, delete_tx, &x, ei);

    arena_free(a);
    return err;
}

struct list_args {
    int with_unpublished;
    const struct keyset *ks;
    struct arena *a;
    struct blog_post **out;
    int *n;
};

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *l = arg;
    char where[200], order[200];
    struct db_res *r = NULL;
    const char *sql = arena_sprintf(
        l->a,
        "SELECT " POST_COLS POST_FROM " WHERE ($1 = 1 OR (b.published_at IS NOT NULL AND "
        "b.published_at <= $2))%s%s",
        keyset_where(l->ks, SORT_KEY, "b.id", 3, where, sizeof where),
        keyset_order(l->ks, SORT_KEY, "b.id", order, sizeof order));
    struct db_param p[] = {DBI(l->with_unpublished), DBI(clock_now_us()), DBI(l->ks->k),
                           DBT(l->ks->id)};
    int err = db_query(c, sql, p, l->ks->has_cursor ? 4 : 2, &r, ei);

    if (err)
        return err;
    *l->n = db_nrows(r);
    *l->out = arena_calloc(l->a, (size_t)*l->n + 1, sizeof **l->out);
    for (int i = 0; i < *l->n; i++)
        row_to_post(r, i, l->a, &(*l->out)[i]);
    db_res_free(r);
    return 0;
}

int blog_list(struct db *db, int with_unpublished, const struct keyset *ks, struct arena *a,
              struct blog_post **out, int *n, struct souk_errinfo *ei)
{
    struct list_args l = {with_unpublished, ks, a, out, n};
    return db_run(db, list_fn, &l, ei);
}

json_t *blog_to_json(const struct blog_post *p)
{
    json_t *author = p->author_id[0] ? json_pack("{s:s, s:s}", "id", p->author_id, "name",
                                                 p->author_name)
                                     : json_null();

    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", p->id, "slug",
                     p->slug, "title", p->title, "excerpt", p->excerpt, "body", p->body,
                     "author", author, "published_at",
                     json_time_or_null(p->published_at, p->published_at == 0), "created_at",
                     json_time(p->created_at), "updated_at", json_time(p->updated_at));
}
