/* blog.h - staff-written blog posts with drafts and scheduled publication
 * (API.md § Home services: /api/blog/...).
 *
 * A post is published once published_at <= now (server clock at read
 * time); with published_at NULL it is a draft. Slugs are unique,
 * [a-z0-9]+(-[a-z0-9]+)*, at most BLOG_SLUG_MAX characters, made from the
 * title when not given. Bodies are Markdown, stored and served as written.
 *
 * Thread safety: no shared state.
 */
#ifndef SOUK_BLOG_H
#define SOUK_BLOG_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct keyset;
struct router;

#define BLOG_SLUG_MAX 100
#define BLOG_TITLE_MAX 200
#define BLOG_EXCERPT_MAX 2000 /* bytes */
#define BLOG_BODY_MAX 1000000 /* bytes */

struct blog_post {
    char id[37];
    char slug[BLOG_SLUG_MAX + 1];
    const char *title, *excerpt, *body;
    char author_id[37]; /* "" when the author is gone */
    const char *author_name;
    int64_t published_at; /* 0: draft */
    int64_t created_at, updated_at;
};

/* A create or a patch: NULL fields are left as they are (patch) or
 * defaulted (create); has_published says published_at was given (0: null). */
struct blog_in {
    const char *title, *slug, *excerpt, *body;
    int has_published;
    int64_t published_at;
};

/* The write rules of blog_create (creating 1) and blog_update: title, slug,
 * excerpt and body limits; SOUK_INVALID with the field. A form that saves
 * nothing (a preview) checks with it too. */
int blog_check(const struct blog_in *in, int creating, struct souk_errinfo *ei);
/* 1 when s is a valid slug. */
int blog_slug_valid(const char *s);
/* The slug made from a title into out (at least "post"). */
void blog_slug_from_title(const char *title, char out[BLOG_SLUG_MAX + 1]);

/* Writes by staff check `in` (a title on create and never empty, at most
 * BLOG_TITLE_MAX characters; a valid slug; the excerpt and body limits:
 * SOUK_INVALID naming the field); each is audited in its transaction (blog.create,
 * blog.update, blog.delete: slug, title, body_length, published_at). The
 * actor of a create is the post's author. */
struct audit_actor;
int blog_create(struct db *db, const struct audit_actor *actor, const struct blog_in *in,
                struct arena *a, struct blog_post *out, struct souk_errinfo *ei);
/* with_unpublished 0: SOUK_NOT_FOUND for a draft or a scheduled post. */
int blog_get(struct db *db, const char *slug, int with_unpublished, struct arena *a,
             struct blog_post *out, struct souk_errinfo *ei);
/* NULL fields of in stay as they are. */
int blog_update(struct db *db, const struct audit_actor *actor, const char *slug,
                const struct blog_in *in, struct arena *a, struct blog_post *out,
                struct souk_errinfo *ei);
int blog_delete(struct db *db, const struct audit_actor *actor, const char *slug,
                struct souk_errinfo *ei);
/* Newest first by publication (drafts by creation). */
int blog_list(struct db *db, int with_unpublished, const struct keyset *ks, struct arena *a,
              struct blog_post **out, int *n, struct souk_errinfo *ei);
/* The sort key of a post in blog_list. */
int64_t blog_sort_key(const struct blog_post *p);

json_t *blog_to_json(const struct blog_post *p);
void blog_http_register(struct router *r);

#endif
