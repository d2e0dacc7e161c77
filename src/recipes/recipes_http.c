/* recipes_http.c - /api/recipes/... (API.md § Recipes and the global
 * cookbook): parse -> authorize (policy) -> the domain -> respond, with every
 * recipe rendered through the access rule (access.c).
 *
 * Lists (/api/recipes/, /global/, /search/ and /api/chefs/{id}/recipes/)
 * share one implementation: filters, keyset
 * pagination on the chosen ordering (cursor {"k": key, "id", "d"}), chefs
 * embedded by the query's join. Which rows the caller sees is
 * recipes_list_visible's (visible.c): a search drops a row whose match needed
 * its locked fields unless the caller may open it.
 *
 * Anonymous list answers are cached for LIST_CACHE_TTL_US per exact query
 * and dropped when any recipe is written (recipes_generation: on this node
 * at once, on the others when the bus message arrives; with no Redis, or
 * Redis away, other nodes see writes within the TTL).
 *
 * Thread safety: the list cache has its own mutex; the rest is per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "core/str.h"
#include "auth/policy.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "http/http.h"
#include "recipes/recipes.h"
#include "vendors/vendors.h"

#define LIST_CACHE_SLOTS   512
#define LIST_CACHE_TTL_US  (INT64_C(5) * 1000000)

static const char *const DIFFICULTIES[] = {"easy", "medium", "hard", NULL};

/* ---- parsing a recipe ---------------------------------------------------------------- */

static void check_tags(struct jv *v, const json_t *tags)
{
    size_t i;
    const json_t *t;

    json_array_foreach(tags, i, t) if (strchr(json_string_value(t), '|'))
        jv_error(v, "dietary", "A tag may not contain '|'.");
}

/* full: POST/PUT (title required, absent fields default); else PATCH. */
static int recipe_parse(struct http_req *req, int full, struct recipe_in *in,
                        struct souk_errinfo *ei)
{
    int flags = full ? JV_REQUIRED : JV_OPTIONAL;
    const char *dsum = full ? "" : NULL;
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    memset(in, 0, sizeof *in);
    jv_begin(&v, body, ei);
    in->title = jv_str(&v, "title", flags, 1, RECIPE_TITLE_MAX, NULL);
    in->summary = jv_str(&v, "summary", JV_OPTIONAL, 0, 2000, dsum);
    in->ingredients = jv_str_array(&v, "ingredients", JV_OPTIONAL, RECIPE_LIST_MAX, 1, 500);
    in->instructions = jv_str(&v, "instructions", JV_OPTIONAL, 0, RECIPE_TEXT_MAX, dsum);
    in->cuisine = jv_str(&v, "cuisine", JV_OPTIONAL, 0, 60, dsum);
    in->dietary = jv_str_array(&v, "dietary", JV_OPTIONAL, 20, 1, 40);
    in->difficulty = jv_enum(&v, "difficulty", JV_OPTIONAL, DIFFICULTIES, full ? "easy" : NULL);
    in->cook_minutes = jv_int(&v, "cook_minutes", JV_OPTIONAL, 0, 10000, full ? 0 : -1);
    in->is_premium = jv_bool(&v, "is_premium", JV_OPTIONAL, full ? 0 : -1);
    in->required_rank = jv_int(&v, "required_rank", JV_OPTIONAL, 1, 100, full ? 1 : -1);
    in->price_set = full || jv_has(&v, "price");
    in->price = jv_money(&v, "price", JV_OPTIONAL | JV_NULLABLE, 1, MONEY_MAX, 0);
    in->currency = jv_str(&v, "currency", JV_OPTIONAL, 3, 3, full ? "usd" : NULL);
    if (in->currency && !currency_valid(in->currency))
        jv_error(&v, "currency", "Expected a lower-case ISO 4217 code.");
    check_tags(&v, in->dietary);
    return jv_done(&v);
}

/* ---- one recipe ------------------------------------------------------------------------- */

static struct recipe_viewer viewer_of(const struct http_req *req)
{
    return (struct recipe_viewer){req->user ? req->user->id : NULL,
                                  req->user ? req->user->role : 0};
}

/* 403 subscription_required with the chef's plans and the teaser. */
static int paywall(struct http_req *req, const struct recipe *r, struct souk_errinfo *ei)
{
    json_t *plans = json_array();
    struct plan *ps = NULL;
    int n = 0;

    if (vendors_plans(req->db, r->chef_id, 0, req->arena, &ps, &n, ei) == 0)
        for (int i = 0; i < n; i++)
            json_array_append_new(plans, vendors_plan_to_json(&ps[i]));
    souk_errinfo_cleanup(ei);
    memset(ei, 0, sizeof *ei);
    ei->extra = json_pack("{s:s, s:o, s:o}", "chef_id", r->chef_id, "plans", plans, "recipe",
                          recipes_to_json(r, RECIPE_LOCKED));
    if (r->has_price)
        json_object_set_new(ei->extra, "purchase",
                            json_pack("{s:s, s:s, s:o, s:s}", "purpose", "recipe", "id", r->id,
                                      "price", money_to_json(r->price), "currency", r->currency));
    return souk_fail_code(ei, SOUK_FORBIDDEN, "subscription_required",
                          "A subscription to this chef is required to open this recipe.");
}

/* GET /api/recipes/{id}/ */
static int recipe_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct recipe_viewer v = viewer_of(req);
    enum recipe_access acc;
    struct recipe r;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = recipes_open(req->db, http_param(req, 0), &v, req->arena, &r, &acc, &ei)))
        return http_problem(req, err, &ei);
    if (acc == RECIPE_LOCKED)
        return http_problem(req, paywall(req, &r, &ei), &ei);
    if (acc == RECIPE_EXCLUSIVE)
        return http_problem(req,
                            souk_fail_code(&ei, SOUK_FORBIDDEN, "exclusive_content",
                                           "This recipe is exclusive to its auction's winner."),
                            &ei);
    return http_json(req, 200, recipes_to_json(&r, acc));
}

/* POST /api/recipes/ */
struct write_args {
    const char *id;
    const char *chef_id;
    struct recipe_in in;
    struct arena *a;
    struct recipe out;
};

static int recipe_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct write_args w = {.a = req->arena};
    struct vendor_profile p;
    int err;

    if ((err = policy_vendor(req, &ei)))
        return http_problem(req, err, &ei);
    if (vendors_get_by_user(req->db, req->user->id, req->arena, &p, &ei)) {
        souk_errinfo_cleanup(&ei);
        return http_problem(
            req, souk_fail(&ei, SOUK_FORBIDDEN, "Create your vendor profile first."), &ei);
    }
    w.chef_id = p.id;
    if ((err = recipe_parse(req, 1, &w.in, &ei)) ||
        (err = recipes_add(req->db, w.chef_id, &w.in, w.a, &w.out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, recipes_to_json(&w.out, RECIPE_OPEN));
}

/* Loads the recipe and checks the caller is its owner or an ADMIN. */
static int owner_gate(struct http_req *req, struct write_args *w, struct souk_errinfo *ei)
{
    int err;

    w->id = http_param(req, 0);
    w->a = req->arena;
    if ((err = policy_user(req, ei)) || (err = recipes_read(req->db, w->id, w->a, &w->out, ei)))
        return err;
    return policy_owner_or_admin(req, w->out.chef_user_id, ei);
}

static int recipe_write(struct http_req *req, int full)
{
    struct souk_errinfo ei = {0};
    struct write_args w = {0};
    int err;

    if ((err = owner_gate(req, &w, &ei)) || (err = recipe_parse(req, full, &w.in, &ei)) ||
        (err = recipes_edit(req->db, w.id, &w.in, w.a, &w.out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, recipes_to_json(&w.out, RECIPE_OPEN));
}

static int recipe_put(struct http_req *req)
{
    return recipe_write(req, 1);
}

static int recipe_patch(struct http_req *req)
{
    return recipe_write(req, 0);
}

static int recipe_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct write_args w = {0};
    int err;

    if ((err = owner_gate(req, &w, &ei)) || (err = recipes_remove(req->db, w.id, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* ---- list filters ------------------------------------------------------------------------- */

static int bad_query(struct souk_errinfo *ei, const char *field, const char *msg)
{
    souk_errinfo_field(ei, field, msg);
    return souk_fail(ei, SOUK_INVALID, "%s", msg);
}

static int parse_order(const char *s, enum recipe_order *o)
{
    static const struct {
        const char *name;
        enum recipe_order o;
    } t[] = {{"-created_at", RECIPE_ORDER_NEWEST}, {"created_at", RECIPE_ORDER_OLDEST},
             {"cook_minutes", RECIPE_ORDER_COOK},  {"-cook_minutes", RECIPE_ORDER_COOK_DESC},
             {"title", RECIPE_ORDER_TITLE},        {"-title", RECIPE_ORDER_TITLE_DESC}};

    *o = RECIPE_ORDER_NEWEST;
    for (size_t i = 0; s && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].name))
            return *o = t[i].o, 0;
    return s ? -1 : 0;
}

static int parse_int_q(const char *s, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    v = strtoll(s, &end, 10);
    if (*end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool_q(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        return *out = 1, 0;
    if (!strcmp(s, "false") || !strcmp(s, "0"))
        return *out = 0, 0;
    return -1;
}

static int parse_filters(struct http_req *req, struct recipe_filter *f, struct souk_errinfo *ei)
{
    const char *s;
    int ok = 0;

    memset(f, 0, sizeof *f);
    f->max_cook_minutes = -1;
    f->is_premium = -1;
    if ((s = http_query(req, "q")) && *s) {
        if (strlen(s) > RECIPE_Q_MAX || !recipes_q_valid(s))
            return bad_query(ei, "q", "Enter words to search for.");
        f->q = s;
    }
    if ((s = http_query(req, "cuisine")) && *s)
        f->cuisine = s;
    f->ndietary = http_query_all(req, "dietary", f->dietary, RECIPE_DIETARY_FILTER_MAX);
    if ((s = http_query(req, "difficulty")) && *s) {
        for (int i = 0; DIFFICULTIES[i]; i++)
            ok |= !strcmp(s, DIFFICULTIES[i]);
        if (!ok)
            return bad_query(ei, "difficulty", "Expected easy, medium or hard.");
        f->difficulty = s;
    }
    if ((s = http_query(req, "max_cook_minutes")) && parse_int_q(s, 1000000, &f->max_cook_minutes))
        return bad_query(ei, "max_cook_minutes", "Expected a whole number of minutes.");
    if ((s = http_query(req, "chef")) && *s) {
        if (!uuid_valid(s))
            return bad_query(ei, "chef", "Expected a chef id.");
        f->chef_id = s;
    }
    if ((s = http_query(req, "is_premium")) && parse_bool_q(s, &f->is_premium))
        return bad_query(ei, "is_premium", "Expected true or false.");
    if (parse_order(http_query(req, "ordering"), &f->order))
        return bad_query(ei, "ordering",
                         "Expected -created_at, created_at, cook_minutes, -cook_minutes, title "
                         "or -title.");
    return 0;
}

/* ---- keyset over the chosen ordering ----------------------------------------------------- */

static int key_is_text(enum recipe_order o)
{
    return o == RECIPE_ORDER_TITLE || o == RECIPE_ORDER_TITLE_DESC;
}


static int cursor_parse(const struct page *pg, enum recipe_order o, struct recipe_cursor *cur,
                        struct souk_errinfo *ei)
{
    const json_t *k = json_object_get(pg->cursor, "k");
    const char *id = json_string_value(json_object_get(pg->cursor, "id"));

    memset(cur, 0, sizeof *cur);
    if (!pg->cursor)
        return 0;
    if (!id || !uuid_valid(id) || (key_is_text(o) ? !json_is_string(k) : !json_is_integer(k)))
        return bad_query(ei, "cursor", "Invalid cursor.");
    cur->has = 1;
    cur->backwards = pg->backwards;
    cur->k_int = json_integer_value(k);
    cur->k_str = json_string_value(k);
    snprintf(cur->id, sizeof cur->id, "%s", id);
    return 0;
}

static char *cursor_of(struct http_req *req, const struct recipe *r, enum recipe_order o,
                       const char *dir)
{
    json_t *c = json_pack("{s:o, s:s, s:s}", "k", recipes_sort_key(r, o), "id", r->id, "d", dir);
    char *s = page_cursor_encode(req, c);

    json_decref(c);
    return s;
}

/* ---- the list -------------------------------------------------------------------------------- */

struct list_args {
    struct recipe_filter *f;
    struct recipe_cursor cur;
    int size;
    struct recipe_page page; /* visible.c: kept rows, fetch order */
};

/* Display order, links as pagination.c describes. */
static json_t *list_envelope(struct http_req *req, const struct page *pg, struct list_args *la)
{
    int more = la->page.n > la->size, n = more ? la->size : la->page.n;
    const struct recipe *first, *last;
    json_t *results = json_array();
    const char *next = NULL, *prev = NULL;

    for (int i = 0; i < n; i++) {
        int k = la->cur.backwards ? n - 1 - i : i;
        json_array_append_new(results, recipes_to_json(&la->page.rows[k], la->page.acc[k]));
    }
    if (n == 0)
        return page_envelope(req, results, NULL, NULL);
    first = &la->page.rows[la->cur.backwards ? n - 1 : 0];
    last = &la->page.rows[la->cur.backwards ? 0 : n - 1];
    if (!pg->backwards) {
        next = more ? cursor_of(req, last, la->f->order, "n") : NULL;
        prev = pg->cursor ? cursor_of(req, first, la->f->order, "p") : NULL;
    } else {
        next = cursor_of(req, last, la->f->order, "n");
        prev = more ? cursor_of(req, first, la->f->order, "p") : NULL;
    }
    return page_envelope(req, results, next, prev);
}

/* ---- the anonymous list cache ------------------------------------------------------------------
 */

static struct {
    pthread_mutex_t mu;
    struct {
        char *key;
        char *body;
        size_t len;
        int64_t at;
        unsigned long gen;
    } slot[LIST_CACHE_SLOTS];
} LC = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char *cache_key(struct http_req *req, const char *chef_id)
{
    char *k = arena_sprintf(req->arena, "%s|%s", req->path, chef_id ? chef_id : "");

    for (int i = 0; i < req->nquery; i++)
        k = arena_sprintf(req->arena, "%s&%s=%s", k, req->query[i].key,
                          req->query[i].value ? req->query[i].value : "");
    return k;
}

static unsigned slot_of(const char *key)
{
    return str_hash(key) % LIST_CACHE_SLOTS;
}

static int cache_get(struct http_req *req, const char *key)
{
    unsigned s = slot_of(key);
    int hit = 0;

    pthread_mutex_lock(&LC.mu);
    if (LC.slot[s].key && !strcmp(LC.slot[s].key, key) && LC.slot[s].gen == recipes_generation() &&
        clock_mono_us() - LC.slot[s].at < LIST_CACHE_TTL_US) {
        http_text(req, 200, "application/json; charset=utf-8", LC.slot[s].body, LC.slot[s].len);
        hit = 1;
    }
    pthread_mutex_unlock(&LC.mu);
    return hit;
}

static void cache_put(const char *key, json_t *body, unsigned long gen)
{
    char *text = json_dumps(body, JSON_COMPACT);
    unsigned s = slot_of(key);

    if (!text)
        return;
    pthread_mutex_lock(&LC.mu);
    free(LC.slot[s].key);
    free(LC.slot[s].body);
    LC.slot[s].key = strdup(key);
    LC.slot[s].body = text;
    LC.slot[s].len = strlen(text);
    LC.slot[s].at = clock_mono_us();
    LC.slot[s].gen = gen;
    pthread_mutex_unlock(&LC.mu);
}

/* ---- list handlers ------------------------------------------------------------------------------
 */

static int list_run(struct http_req *req, const char *chef_id)
{
    struct souk_errinfo ei = {0};
    struct recipe_filter f;
    struct list_args la = {.f = &f};
    struct recipe_viewer v = viewer_of(req);
    unsigned long gen = recipes_generation();
    const char *key = NULL;
    struct page pg;
    json_t *env;
    int err;

    if ((err = policy_anyone(req, &ei)))
        return http_problem(req, err, &ei);
    if (!req->user && (key = cache_key(req, chef_id)) && cache_get(req, key))
        return 0;
    if ((err = parse_filters(req, &f, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = cursor_parse(&pg, f.order, &la.cur, &ei)))
        return http_problem(req, err, &ei);
    if (chef_id)
        f.chef_id = chef_id;
    la.size = pg.size;
    /* A cached answer is filled from the primary: a replica that has not replayed the write
     * that just emptied the cache would put the old page back for the whole TTL. */
    if ((err = recipes_list_visible(key ? req->db : http_read_db(req), &v, &f, &la.cur,
                                    la.size, req->arena, &la.page, &ei)))
        return http_problem(req, err, &ei);
    env = list_envelope(req, &pg, &la);
    if (key)
        cache_put(key, env, gen);
    return http_json(req, 200, env);
}

/* GET /api/chefs/{id}/recipes/: the chef's recipes, access-filtered and
 * paginated exactly as /api/recipes/?chef=<id>. */
static int chef_recipes(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return list_run(req, p.id);
}

/* GET /api/recipes/, /api/recipes/global/, /api/recipes/search/ */
static int recipe_list(struct http_req *req)
{
    return list_run(req, NULL);
}

void recipes_http_register(struct router *r)
{
    http_route(r, "GET", "/api/recipes/", recipe_list, 0,
               "Recipes, newest first, premium ones locked unless the caller may open them");
    http_route(r, "POST", "/api/recipes/", recipe_post, 0,
               "Publish a recipe (VENDOR with profile)");
    http_route(r, "GET", "/api/chefs/{id}/recipes/", chef_recipes, 0, "A chef's recipes");
    http_route(r, "GET", "/api/recipes/global/", recipe_list, 0,
               "The global cookbook: every chef's recipes with the chef embedded");
    http_route(r, "GET", "/api/recipes/search/", recipe_list, 0,
               "Full-text search with filters, orderings and cursor pagination");
    http_route(r, "GET", "/api/recipes/{id}/", recipe_get, 0,
               "A recipe (403 subscription_required with the chef's plans when locked)");
    http_route(r, "PUT", "/api/recipes/{id}/", recipe_put, 0, "Replace a recipe (owner, ADMIN)");
    http_route(r, "PATCH", "/api/recipes/{id}/", recipe_patch, 0, "Update a recipe (owner, ADMIN)");
    http_route(r, "DELETE", "/api/recipes/{id}/", recipe_delete, 0,
               "Delete a recipe (owner, ADMIN)");
}
