/* recipes.h - chefs' recipes, the global cookbook, full-text search, one-time
 * recipe purchases, and THE access rule for premium content.
 *
 * Tables owned: recipes, recipes_fts (SQLite; a tsvector column on
 * PostgreSQL), recipe_purchases (migration 0005).
 *
 * Access (access.c) is decided in one place, recipes_access_check(), for
 * every way a recipe leaves the server: the detail view, the lists, the
 * search (post-filtered so that locked fields never match), the global
 * cookbook, GET /api/chefs/{id}/recipes/, notifications and e-mails
 * (recipes_render_for_user). Nothing else may decide whether
 * ingredients/instructions are shown.
 *
 * Strings in returned structs live in the arena passed in. Functions taking
 * a struct db_conn run inside the caller's transaction (or autocommit).
 * Thread safety: everything is thread-safe; the exclusive hook and the
 * payment purpose are registered once before the server starts.
 */
#ifndef SOUK_RECIPES_H
#define SOUK_RECIPES_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct router;

#define RECIPE_TITLE_MAX          200
#define RECIPE_TEXT_MAX           20000
#define RECIPE_LIST_MAX           100 /* ingredients, dietary tags */
#define RECIPE_DIETARY_FILTER_MAX 8
#define RECIPE_Q_MAX              200
/* A word of q matches as a prefix from this many characters on; a shorter
 * one matches only that exact word ("c" finds "c", not "chicken"): a
 * one-letter prefix covers nearly every recipe, and on SQLite it would
 * merge most of the index per query. Both dialects apply it. */
#define RECIPE_Q_PREFIX_MIN       2
/* A word of q matches as a prefix from this many characters on; a shorter
 * one matches only that exact word ("c" finds "c", not "chicken"): a
 * one-letter prefix covers nearly every recipe, and on SQLite it would
 * merge most of the index per query. Both dialects apply it. */
#define RECIPE_Q_PREFIX_MIN       2

struct recipe {
    char id[37];
    char chef_id[37];      /* vendor profile id */
    char chef_user_id[37]; /* its owner (for the owner check) */
    const char *chef_name; /* business_name, embedded as chef{} */
    const char *title;
    const char *summary;
    const char *ingredients; /* JSON array text */
    const char *instructions;
    const char *cuisine;
    const char *dietary; /* JSON array text */
    char difficulty[8];
    int cook_minutes;
    int is_premium;
    int required_rank;
    int has_price;
    int64_t price; /* minor units when has_price */
    char currency[4];
    int64_t created_at;
    int64_t updated_at;
    int64_t hidden_at; /* 0: not hidden by staff */
    int public_match; /* search only: q matched within title/summary alone */
};

/* Input of a create or an update. For PATCH, absent fields keep their value
 * (pointers NULL, numbers -1); for POST/PUT the handler fills defaults. */
struct recipe_in {
    const char *title;
    const char *summary;
    const json_t *ingredients; /* array of strings */
    const char *instructions;
    const char *cuisine;
    const json_t *dietary; /* array of strings */
    const char *difficulty;
    int64_t cook_minutes;  /* -1: absent */
    int is_premium;        /* -1: absent */
    int64_t required_rank; /* -1: absent */
    int price_set;         /* price given (possibly null) */
    int64_t price;         /* 0 with price_set: null (no one-time purchase) */
    const char *currency;
};

enum recipe_order {
    RECIPE_ORDER_NEWEST = 0, /* -created_at (default) */
    RECIPE_ORDER_OLDEST,     /* created_at */
    RECIPE_ORDER_COOK,       /* cook_minutes */
    RECIPE_ORDER_COOK_DESC,  /* -cook_minutes */
    RECIPE_ORDER_TITLE,      /* title */
    RECIPE_ORDER_TITLE_DESC  /* -title */
};

struct recipe_filter {
    const char *q; /* full text; NULL: none */
    const char *cuisine;
    const char *dietary[RECIPE_DIETARY_FILTER_MAX];
    int ndietary;
    const char *difficulty;
    int64_t max_cook_minutes; /* -1: none */
    const char *chef_id;
    int is_premium; /* -1: either */
    enum recipe_order order;
};

/* Keyset position: the sort key of the edge row (integer or text, by
 * order) and its id. */
struct recipe_cursor {
    int has;
    int backwards;
    int64_t k_int;
    const char *k_str;
    char id[37];
};

/* ---- recipes.c ---------------------------------------------------------- */
int recipes_create(struct db_conn *tx, const char *chef_id, const struct recipe_in *in,
                   struct arena *a, struct recipe *out, struct souk_errinfo *ei);
/* ---- rowcache.c: recipes_get from memory while no recipe was written (the detail) ---- */
int recipes_get_cached(struct db_conn *c, const char *id, struct arena *a, struct recipe *out,
                       struct souk_errinfo *ei);
int recipes_get(struct db_conn *c, const char *id, struct arena *a, struct recipe *out,
                struct souk_errinfo *ei);
/* Applies the present fields of `in`. */
int recipes_update(struct db_conn *tx, const char *id, const struct recipe_in *in, struct arena *a,
                   struct recipe *out, struct souk_errinfo *ei);
int recipes_delete(struct db_conn *tx, const char *id, struct souk_errinfo *ei);
/* actions.c: the same, each in a transaction of its own (the handlers'). */
struct db;
int recipes_read(struct db *db, const char *id, struct arena *a, struct recipe *out,
                 struct souk_errinfo *ei);
int recipes_add(struct db *db, const char *chef_id, const struct recipe_in *in, struct arena *a,
                struct recipe *out, struct souk_errinfo *ei);
int recipes_edit(struct db *db, const char *id, const struct recipe_in *in, struct arena *a,
                 struct recipe *out, struct souk_errinfo *ei);
int recipes_remove(struct db *db, const char *id, struct souk_errinfo *ei);
/* Up to `limit` rows in fetch order (reversed for a backwards cursor).
 * With f->q, rows match q over title, summary and ingredients, and
 * public_match says whether they match over title and summary alone. */
int recipes_list(struct db_conn *c, const struct recipe_filter *f, const struct recipe_cursor *cur,
                 int limit, struct arena *a, struct recipe **out, int *n, struct souk_errinfo *ei);
/* Statistics for vendor profiles (src/vendors). */
int recipes_count_for_chef(struct db_conn *c, const char *chef_id, int64_t *all, int64_t *premium,
                           struct souk_errinfo *ei);
/* The same for a page of chefs in one query: all[i], premium[i] for ids[i]
 * (n <= RECIPE_COUNT_BATCH_MAX; a chef without recipes gets 0, 0). */
#define RECIPE_COUNT_BATCH_MAX 100
int recipes_count_for_chefs(struct db_conn *c, const char *const *ids, int n, int64_t *all,
                            int64_t *premium, struct souk_errinfo *ei);
/* Monotonic counter bumped after every recipe write on this node and, through
 * the bus (core/bus.h), on every other node (the anonymous list cache and the
 * search-word expansion key on it). */
unsigned long recipes_generation(void);
/* Puts the generation on the bus (recipes_init). 0 ok. */
int recipes_cache_start(void);
/* 1 when `s` is a sane full-text query (some word characters). */
int recipes_q_valid(const char *s);

/* ---- access.c: the one access rule ------------------------------------------
 *
 *   OPEN       the chef (owner), MODERATOR/ADMIN; a free recipe (unless
 *              exclusive); a buyer of it; a subscriber whose subscription
 *              to that chef grants access now with plan rank >= required_rank
 *   LOCKED     anyone else: 403 subscription_required on the detail view,
 *              `locked: true` with ingredients/instructions null in lists
 *   EXCLUSIVE  an auctioned recipe (see recipes_set_exclusive_hook): only
 *              the chef, MODERATOR/ADMIN and the paying winner open it
 */
enum recipe_access { RECIPE_OPEN = 0, RECIPE_LOCKED = 1, RECIPE_EXCLUSIVE = 2 };

struct recipe_viewer {
    const char *user_id; /* NULL: anonymous */
    int role;            /* enum auth_role */
};

/* Hook for auctions (src/auctions installs it): sets *exclusive when the recipe is
 * exclusive now (auction running or sold), and *winner when `user_id`
 * (may be NULL) is its paying winner. Called only for viewers who are not
 * the owner or staff. Register before the server starts. */
typedef int (*recipe_exclusive_fn)(struct db_conn *c, const struct recipe *r, const char *user_id,
                                   int *exclusive, int *winner, struct souk_errinfo *ei);
void recipes_set_exclusive_hook(recipe_exclusive_fn fn);
/* The same for a page, in one query: flags[i] gets RECIPE_EXCL_EXCLUSIVE and
 * RECIPE_EXCL_WINNER for rs[i]. Used by recipes_access_prefetch when set. */
#define RECIPE_EXCL_EXCLUSIVE 1
#define RECIPE_EXCL_WINNER    2
typedef int (*recipe_exclusive_page_fn)(struct db_conn *c, const struct recipe *rs, int n,
                                        const char *user_id, unsigned char *flags,
                                        struct souk_errinfo *ei);
void recipes_set_exclusive_page_hook(recipe_exclusive_page_fn fn);

/* Per-request (or per-render) state: the viewer and what was prefetched. */
#define RECIPE_ACCESS_PREFETCH_MAX 128
struct recipe_access_ctx {
    struct db_conn *c;
    struct recipe_viewer viewer;
    int prefetched;
    int npurchased;
    char purchased[RECIPE_ACCESS_PREFETCH_MAX][37];
    const struct recipe *page; /* the prefetched page and its exclusive flags */
    int npage;
    unsigned char excl[RECIPE_ACCESS_PREFETCH_MAX];
};
void recipes_access_begin(struct recipe_access_ctx *ctx, struct db_conn *c,
                          const struct recipe_viewer *v);
/* Optional, for lists: loads which of rs[0..n) are exclusive (one query)
 * and the viewer's purchases among the premium ones their grants do not
 * open (one query, only when there are such rows), so that checking the
 * page costs no further query; grants come from the subscription cache. */
int recipes_access_prefetch(struct recipe_access_ctx *ctx, const struct recipe *rs, int n,
                            struct souk_errinfo *ei);
int recipes_access_check(struct recipe_access_ctx *ctx, const struct recipe *r,
                         enum recipe_access *out, struct souk_errinfo *ei);
/* actions.c: recipe id with what `viewer` may see of it, in one read. */
int recipes_open(struct db *db, const char *id, const struct recipe_viewer *viewer,
                 struct arena *a, struct recipe *out, enum recipe_access *acc,
                 struct souk_errinfo *ei);
/* The recipe as `access` allows (new reference): locked fields null. */
json_t *recipes_to_json(const struct recipe *r, enum recipe_access access);
/* For notifications and e-mails: the recipe as `user_id` may see it. */
int recipes_render_for_user(struct db_conn *c, const char *recipe_id, const char *user_id, int role,
                            struct arena *a, json_t **out, struct souk_errinfo *ei);

/* ---- visible lists (visible.c) ------------------------------------------- */
/* A page of the recipes v may see, matching f, after cur: at most size + 1
 * rows (one more than a page says that more exist), in fetch order, each
 * with its access. A search (f->q) drops every row that matched only
 * through text v may not open, and reads on in batches until the page is
 * full. The _tx form runs in the caller's transaction. */
struct recipe_page {
    struct recipe *rows;
    enum recipe_access *acc;
    int n;
};
int recipes_list_visible(struct db *db, const struct recipe_viewer *v,
                         const struct recipe_filter *f, const struct recipe_cursor *cur, int size,
                         struct arena *a, struct recipe_page *out, struct souk_errinfo *ei);
int recipes_list_visible_tx(struct db_conn *c, const struct recipe_viewer *v,
                            const struct recipe_filter *f, const struct recipe_cursor *cur,
                            int size, struct arena *a, struct recipe_page *out,
                            struct souk_errinfo *ei);
/* The keyset key of r in ordering o (new reference: a string or an integer). */
json_t *recipes_sort_key(const struct recipe *r, enum recipe_order o);

/* ---- purchases (recipes.c) ---------------------------------------------- */
int recipes_purchase_mark_paid(struct db_conn *tx, const char *recipe_id, const char *user_id,
                               const char *payment_id, struct souk_errinfo *ei);

/* ---- module --------------------------------------------------------------- */
/* Registers the "recipe" payment purpose. */
int recipes_init(struct db *db, struct souk_errinfo *ei);
/* The recipes part of the export and the erasure (userdata.h). */
void recipes_userdata_register(void);
/* Staff's hidden mark (moderation kind "recipe"): 1 hide, 0 show; SOUK_NOT_FOUND when no such
 * recipe. In the caller's transaction; cached reads are invalidated after the commit. */
int recipes_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei);
/* Registers the moderation kind "recipe" (at init). */
void recipes_moderation_register(void);
/* /api/recipes/... and /api/chefs/{id}/recipes/, see API.md § Recipes. */
void recipes_http_register(struct router *r);
/* Registers the recipe counts of vendor statistics (vendors.h), at init. */
void recipes_vendor_stats_register(void);

#endif
