/* internal.h - what the files of src/projects share: the project column
 * list, batched reads and the helpers of lists. Not for other domains.
 */
#ifndef SOUK_PROJECTS_INTERNAL_H
#define SOUK_PROJECTS_INTERNAL_H

#include <stddef.h>
#include "projects/projects.h"

struct db_res;
struct db_param;

#define PROJECTS_BATCH_MAX 101

#define PROJECT_COLS                                                                       \
    "p.id, p.vendor_id, v.user_id, p.title, p.description, p.category, p.city, p.tags, "  \
    "p.area_m2, p.budget, p.currency, p.view_count, p.favorite_count, p.top_until, "       \
    "p.detailed_until, p.hidden_at, p.created_at, p.updated_at, v.business_name, "         \
    "v.is_verified, v.pro_until"
#define PROJECT_FROM "FROM projects p JOIN vendor_profiles v ON v.id = p.vendor_id"

void projects_row(const struct db_res *r, int i, struct arena *a, struct project *p);
int projects_attach(struct db_conn *c, struct project *ps, int n, const char *viewer,
                    struct arena *a, struct souk_errinfo *ei);
int projects_load(struct db_conn *c, const char *id, const char *viewer, struct arena *a,
                  struct project *out, struct souk_errinfo *ei);

/* "prefix$first, $first+1, ...suffix" for n parameters. */
void showcase_in_list(char *sql, size_t len, const char *prefix, int first, int n,
                      const char *suffix);
/* Sets the int at is_fav_off of each of n structs (stride bytes apart, id
 * at id_off) whose id the user has among favorites: one query. ids are the
 * n ids as parameters. */
int showcase_mark_favorites(struct db_conn *c, const char *user_id, const struct db_param *ids,
                            int n, void *rows, size_t stride, size_t id_off, size_t is_fav_off,
                            struct souk_errinfo *ei);
/* Enqueues the removal of files (hashes) once no row refers to them. */
int showcase_gc_enqueue(struct db_conn *c, json_t *hashes, struct souk_errinfo *ei);
/* Adds "word" conditions for q over a SQL text expression: every word as a
 * prefix of a word; params appended from *np (max 8 words). */
int showcase_q_sql(const char *q, const char *expr, struct arena *a, char *sql, size_t len,
                   struct db_param *p, int *np);
/* Parses an ordering list against names/exprs; NULL spec -> dflt. */
int showcase_order_sql(const char *spec, const char *const *names, const char *const *exprs,
                       const char *dflt, struct arena *a, const char **out,
                       struct souk_errinfo *ei);
int64_t showcase_day(int64_t at_us);

/* The moderation kind "project" (projects.c), registered by projects_init. */
struct moderation_kind;
extern const struct moderation_kind projects_moderation_kind;

#endif
