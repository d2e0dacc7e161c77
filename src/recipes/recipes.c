/* recipes.c - the recipes table: create, read, update, delete, the lists
 * and the full-text search behind /api/recipes/, /global/ and /search/.
 *
 * Every read joins vendor_profiles once for the chef's owner and name, so
 * lists embed `chef` without a query per row.
 *
 * Full text (both dialects side by side in *_fts):
 *   SQLite      recipes_fts (FTS5, external content, kept by triggers) whose
 *               rowid is recipes.seq, an integer that sorts like
 *               (created_at, id) (migration 0009). -created_at and
 *               created_at searches are driven by FTS5 itself
 *               (`f MATCH q ORDER BY f.rowid DESC LIMIT n`, keyset on seq):
 *               a page reads about page_size matches at any table size.
 *               cook_minutes and title cannot be driven by FTS5; they pick
 *               one of two plans per query (sqlite_fts), O(matches) either
 *               way. Prefix indexes serve two- and three-letter prefixes.
 *   PostgreSQL  recipes.search, a generated tsvector (title+summary weigh
 *               A, ingredients B) with a GIN index; the public part is the
 *               weight filter (word:*A). The planner walks the ordering's
 *               index and tests each row.
 * q is cut into words here (letters, digits and any non-ASCII byte); every
 * word must match, case-insensitively, as a prefix from
 * RECIPE_Q_PREFIX_MIN characters on (a shorter word: exactly). Each row
 * also says whether q matches its public fields alone (public_match: SQL
 * on PostgreSQL, public_match() here on SQLite), which the search
 * post-filter combines with the access rule (recipes_http.c).
 *
 * Thread safety: an atomic generation counter and the prefix expansion
 * cache (its own mutex); nothing else is shared.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/bus.h"
#include "core/str.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/uuid.h"
#include "db/db.h"
#include "recipes/recipes.h"
#include "moderation/moderation.h"
#include "userdata/userdata.h"
#include "vendors/vendors.h"

#define RCOLS                                                                                      \
    "r.id, r.chef_id, v.user_id, v.business_name, r.title, r.summary, r.ingredients, "             \
    "r.instructions, r.cuisine, r.dietary, r.difficulty, r.cook_minutes, r.is_premium, "           \
    "r.required_rank, r.price, r.currency, r.created_at, r.updated_at, r.hidden_at"
#define RFROM       " FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id"
#define Q_WORDS_MAX 16

#define RECIPES_TOPIC "recipes"

static atomic_ulong generation = 1;

unsigned long recipes_generation(void)
{
    return atomic_load(&generation);
}

/* A recipe changed somewhere: every cached list, search expansion and detail is stale. */
static void on_bus(const char *payload, void *arg)
{
    (void)payload;
    (void)arg;
    atomic_fetch_add(&generation, 1);
}

static void on_bus_reset(void *arg)
{
    on_bus("", arg);
}

/* After a recipe write's commit: here at once, then on every other node (core/bus.h). */
static void bump(void *arg)
{
    on_bus("", arg);
    bus_publish(RECIPES_TOPIC, "");
}

int recipes_cache_start(void)
{
    return bus_topic(RECIPES_TOPIC, on_bus, on_bus_reset, NULL);
}

static void row_to_recipe(const struct db_res *r, int i, struct arena *a, struct recipe *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", db_get(r, i, 0));
    snprintf(o->chef_id, sizeof o->chef_id, "%s", db_get(r, i, 1));
    snprintf(o->chef_user_id, sizeof o->chef_user_id, "%s", db_get(r, i, 2));
    o->chef_name = arena_strdup(a, db_get(r, i, 3));
    o->title = arena_strdup(a, db_get(r, i, 4));
    o->summary = arena_strdup(a, db_get(r, i, 5));
    o->ingredients = arena_strdup(a, db_get(r, i, 6));
    o->instructions = arena_strdup(a, db_get(r, i, 7));
    o->cuisine = arena_strdup(a, db_get(r, i, 8));
    o->dietary = arena_strdup(a, db_get(r, i, 9));
    snprintf(o->difficulty, sizeof o->difficulty, "%s", db_get(r, i, 10));
    o->cook_minutes = (int)db_int(r, i, 11);
    o->is_premium = db_bool(r, i, 12);
    o->required_rank = (int)db_int(r, i, 13);
    o->has_price = !db_isnull(r, i, 14);
    o->price = db_int(r, i, 14);
    snprintf(o->currency, sizeof o->currency, "%s", db_get(r, i, 15));
    o->created_at = db_int(r, i, 16);
    o->updated_at = db_int(r, i, 17);
    o->hidden_at = db_int(r, i, 18);
}

int recipes_get(struct db_conn *c, const char *id, struct arena *a, struct recipe *out,
                struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err;

    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    err = db_query(c, "SELECT " RCOLS RFROM " WHERE r.id = $1", DB_PARAMS(DBT(id)), &res, ei);
    if (!err && db_nrows(res) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    if (!err)
        row_to_recipe(res, 0, a, out);
    db_res_free(res);
    return err;
}

/* ---- writes ---------------------------------------------------------------------- */

static char *json_text(struct arena *a, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    char *out = arena_strdup(a, s ? s : "[]");

    free(s);
    return out;
}

/* "|vegan|gluten-free|": lower-cased tags between bars, for strpos/instr. */
static char *dietary_tags(struct arena *a, const json_t *tags)
{
    size_t cap = 2, i, len = 1;
    const json_t *t;
    char *out;

    json_array_foreach(tags, i, t) cap += strlen(json_string_value(t)) + 1;
    out = arena_alloc(a, cap);
    out[0] = '|';
    json_array_foreach(tags, i, t)
    {
        for (const char *p = json_string_value(t); *p; p++)
            out[len++] = (char)tolower((unsigned char)*p);
        out[len++] = '|';
    }
    out[len] = 0;
    return out;
}

int recipes_create(struct db_conn *tx, const char *chef_id, const struct recipe_in *in,
                   struct arena *a, struct recipe *out, struct souk_errinfo *ei)
{
    json_t *empty = json_array();
    const json_t *ing = in->ingredients ? in->ingredients : empty;
    const json_t *diet = in->dietary ? in->dietary : empty;
    int64_t now = clock_now_us();
    char id[37];
    int err;

    uuid_v7(id);
    err =
        db_exec(tx,
                "INSERT INTO recipes (id, chef_id, title, summary, ingredients, instructions, "
                "cuisine, dietary, dietary_tags, difficulty, cook_minutes, is_premium, "
                "required_rank, price, currency, created_at, updated_at) VALUES ($1, $2, $3, "
                "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
                DB_PARAMS(DBT(id), DBT(chef_id), DBT(in->title), DBT(in->summary),
                          DBT(json_text(a, ing)), DBT(in->instructions), DBT(in->cuisine),
                          DBT(json_text(a, diet)), DBT(dietary_tags(a, diet)), DBT(in->difficulty),
                          DBI(in->cook_minutes), DBB(in->is_premium > 0), DBI(in->required_rank),
                          in->price > 0 ? DBI(in->price) : DBNULL, DBT(in->currency), DBI(now)),
                NULL, ei);
    json_decref(empty);
    if (err)
        return err;
    db_after_commit(tx, bump, NULL, NULL);
    return recipes_get(tx, id, a, out, ei);
}

/* Merges the present fields of `in` into the stored recipe `r`. */
static void merge(struct arena *a, const struct recipe_in *in, struct recipe *r)
{
    if (in->title)
        r->title = in->title;
    if (in->summary)
        r->summary = in->summary;
    if (in->ingredients)
        r->ingredients = json_text(a, in->ingredients);
    if (in->instructions)
        r->instructions = in->instructions;
    if (in->cuisine)
        r->cuisine = in->cuisine;
    if (in->dietary)
        r->dietary = json_text(a, in->dietary);
    if (in->difficulty)
        snprintf(r->difficulty, sizeof r->difficulty, "%s", in->difficulty);
    if (in->cook_minutes >= 0)
        r->cook_minutes = (int)in->cook_minutes;
    if (in->is_premium >= 0)
        r->is_premium = in->is_premium;
    if (in->required_rank >= 1)
        r->required_rank = (int)in->required_rank;
    if (in->price_set) {
        r->has_price = in->price > 0;
        r->price = in->price;
    }
    if (in->currency)
        snprintf(r->currency, sizeof r->currency, "%s", in->currency);
}

int recipes_update(struct db_conn *tx, const char *id, const struct recipe_in *in, struct arena *a,
                   struct recipe *out, struct souk_errinfo *ei)
{
    json_t *diet;
    struct recipe r;
    int err;

    if ((err = recipes_get(tx, id, a, &r, ei)))
        return err;
    merge(a, in, &r);
    diet = json_loads(r.dietary, 0, NULL);
    err = db_exec(tx,
                  "UPDATE recipes SET title = $2, summary = $3, ingredients = $4, "
                  "instructions = $5, cuisine = $6, dietary = $7, dietary_tags = $8, "
                  "difficulty = $9, cook_minutes = $10, is_premium = $11, required_rank = $12, "
                  "price = $13, currency = $14, updated_at = $15 WHERE id = $1",
                  DB_PARAMS(DBT(r.id), DBT(r.title), DBT(r.summary), DBT(r.ingredients),
                            DBT(r.instructions), DBT(r.cuisine), DBT(r.dietary),
                            DBT(dietary_tags(a, json_is_array(diet) ? diet : NULL)),
                            DBT(r.difficulty), DBI(r.cook_minutes), DBB(r.is_premium),
                            DBI(r.required_rank), r.has_price ? DBI(r.price) : DBNULL,
                            DBT(r.currency), DBI(clock_now_us())),
                  NULL, ei);
    json_decref(diet);
    if (err)
        return err;
    db_after_commit(tx, bump, NULL, NULL);
    return recipes_get(tx, id, a, out, ei);
}

int recipes_delete(struct db_conn *tx, const char *id, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err = db_exec(tx, "DELETE FROM recipes WHERE id = $1", DB_PARAMS(DBT(id)), &n, ei);

    if (!err && n == 0)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    if (!err)
        db_after_commit(tx, bump, NULL, NULL);
    return err;
}

int recipes_count_for_chef(struct db_conn *c, const char *chef_id, int64_t *all, int64_t *premium,
                           struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(c,
                       "SELECT COUNT(*), COALESCE(SUM(CASE WHEN is_premium THEN 1 ELSE 0 END), 0) "
                       "FROM recipes WHERE chef_id = $1 AND hidden_at IS NULL",
                       DB_PARAMS(DBT(chef_id)), &res, ei);

    *all = err ? 0 : db_int(res, 0, 0);
    *premium = err ? 0 : db_int(res, 0, 1);
    db_res_free(res);
    return err;
}

/* For each of ids[0..n) (vendor profile ids, n <= RECIPE_COUNT_BATCH_MAX):
 * all[i], premium[i]; one grouped query. */
int recipes_count_for_chefs(struct db_conn *c, const char *const *ids, int n, int64_t *all,
                            int64_t *premium, struct souk_errinfo *ei)
{
    struct db_param p[RECIPE_COUNT_BATCH_MAX];
    char sql[256 + RECIPE_COUNT_BATCH_MAX * 8];
    struct db_res *res = NULL;
    size_t len;
    int err;

    memset(all, 0, (size_t)n * sizeof *all);
    memset(premium, 0, (size_t)n * sizeof *premium);
    if (n <= 0)
        return 0;
    if (n > RECIPE_COUNT_BATCH_MAX)
        return souk_fail(ei, SOUK_INTERNAL, "recipes_count_for_chefs: %d ids", n);
    len = (size_t)snprintf(sql, sizeof sql,
                           "SELECT chef_id, COUNT(*), COALESCE(SUM(CASE WHEN is_premium THEN 1 "
                           "ELSE 0 END), 0) FROM recipes WHERE chef_id IN (");
    for (int i = 0; i < n; i++) {
        p[i] = DBT(ids[i]);
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s$%d", i ? ", " : "", i + 1);
    }
    snprintf(sql + len, sizeof sql - len, ") AND hidden_at IS NULL GROUP BY chef_id");
    if ((err = db_query(c, sql, p, n, &res, ei)))
        return err;
    for (int r = 0; r < db_nrows(res); r++)
        for (int i = 0; i < n; i++)
            if (strcmp(db_get(res, r, 0), ids[i]) == 0) {
                all[i] = db_int(res, r, 1);
                premium[i] = db_int(res, r, 2);
            }
    db_res_free(res);
    return 0;
}

int recipes_purchase_mark_paid(struct db_conn *tx, const char *recipe_id, const char *user_id,
                               const char *payment_id, struct souk_errinfo *ei)
{
    return db_exec(tx,
                   "UPDATE recipe_purchases SET status = 'paid', payment_id = $3, updated_at = $4 "
                   "WHERE recipe_id = $1 AND user_id = $2 AND status IN ('pending', 'expired')",
                   DB_PARAMS(DBT(recipe_id), DBT(user_id), DBT(payment_id), DBI(clock_now_us())),
                   NULL, ei);
}

/* ---- full-text query text ------------------------------------------------------------ */

static int word_byte(unsigned char ch)
{
    return isalnum(ch) || ch >= 0x80;
}

/* Splits q into at most Q_WORDS_MAX lower-cased words (arena). */
static int q_words(struct arena *a, const char *q, const char **words)
{
    int n = 0;

    while (q && *q && n < Q_WORDS_MAX) {
        const char *s;
        char *w;
        while (*q && !word_byte((unsigned char)*q))
            q++;
        for (s = q; *q && word_byte((unsigned char)*q); q++)
            ;
        if (q == s)
            break;
        w = arena_strndup(a, s, (size_t)(q - s));
        for (char *p = w; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        words[n++] = w;
    }
    return n;
}

int recipes_q_valid(const char *s)
{
    for (; s && *s; s++)
        if (word_byte((unsigned char)*s))
            return 1;
    return 0;
}

/* How SQLite runs a search (PostgreSQL: see the top of this file). */
enum fts_plan {
    FTS_DRIVE = 1, /* created_at orderings: FTS5 yields matches in seq order */
    FTS_WALK,      /* other orderings, many matches: walk the ordering's index */
    FTS_LOOKUP     /* other orderings, few matches: fetch them by seq and sort */
};

/* A search as each dialect runs it. */
struct fts {
    const char *words[Q_WORDS_MAX];
    int nwords;
    const char *all; /* matches over every searchable field */
    const char *pub; /* PostgreSQL: matches over the public teaser (weight A) */
    enum fts_plan plan;
};

/* UTF-8 characters in w (the minimum prefix length counts characters). */
static size_t word_chars(const char *w)
{
    size_t n = 0;

    for (; *w; w++)
        n += ((unsigned char)*w & 0xC0) != 0x80;
    return n;
}

static int word_is_prefix(const char *w)
{
    return word_chars(w) >= RECIPE_Q_PREFIX_MIN;
}

/* PostgreSQL: w1:* & w2:*  (public: w1:*A & w2:*A, weight A = title and summary) */
static void pg_fts(struct arena *a, struct fts *f)
{
    char *all = "", *pub = "";

    for (int i = 0; i < f->nwords; i++) {
        const char *w = f->words[i], *sep = i ? " & " : "";
        int pre = word_is_prefix(w);
        all = arena_sprintf(a, "%s%s%s%s", all, sep, w, pre ? ":*" : "");
        pub = arena_sprintf(a, "%s%s%s%s", pub, sep, w, pre ? ":*A" : ":A");
    }
    f->all = all;
    f->pub = pub;
}

/* ---- SQLite: a word's prefix as exact terms, cached ----------------------------------
 * FTS5 reads an exact term's doclist lazily, in rowid order, so an
 * FTS-driven page stops after about page_size matches; a prefix query
 * longer than the prefix indexes (3 characters) first merges the doclist
 * of every term it covers, O(matches) per query (5 ms for "chickpea"* at
 * 1M recipes). So a word of 4+ characters is expanded into the terms it
 * covers ("chickpea" OR "chickpeas"), read from recipes_fts_vocab (which
 * itself counts whole doclists: O(matches)) at most once per
 * EXPAND_TTL_US per word and node, and again after any recipe write
 * (recipes_generation, every node through the bus; without it, a recipe
 * written on another node with a new term is found by its prefixes within
 * the TTL, by its exact words at once: the word itself is always a term). More than
 * FTS_TERMS_MAX terms: the prefix query. Thread safety: XC.mu. */
#define FTS_TERMS_MAX   64
#define EXPAND_SLOTS    256
#define EXPAND_TTL_US   (INT64_C(5) * 1000000)

static struct {
    pthread_mutex_t mu;
    struct {
        char *word;
        char *expr;
        int64_t at;
        unsigned long gen;
    } slot[EXPAND_SLOTS];
} XC = {.mu = PTHREAD_MUTEX_INITIALIZER};

static unsigned expand_slot(const char *w)
{
    return str_hash(w) % EXPAND_SLOTS;
}

static const char *expand_get(struct arena *a, const char *w)
{
    unsigned s = expand_slot(w);
    const char *out = NULL;

    pthread_mutex_lock(&XC.mu);
    if (XC.slot[s].word && !strcmp(XC.slot[s].word, w) && XC.slot[s].gen == recipes_generation() &&
        clock_mono_us() - XC.slot[s].at < EXPAND_TTL_US)
        out = arena_strdup(a, XC.slot[s].expr);
    pthread_mutex_unlock(&XC.mu);
    return out;
}

static void expand_put(const char *w, const char *expr, unsigned long gen)
{
    unsigned s = expand_slot(w);

    pthread_mutex_lock(&XC.mu);
    free(XC.slot[s].word);
    free(XC.slot[s].expr);
    XC.slot[s].word = xstrdup(w);
    XC.slot[s].expr = xstrdup(expr);
    XC.slot[s].at = clock_mono_us();
    XC.slot[s].gen = gen;
    pthread_mutex_unlock(&XC.mu);
}

/* The FTS5 expression of one word of 4+ characters. */
static int expand_word(struct db_conn *c, struct arena *a, const char *w, const char **expr,
                       struct souk_errinfo *ei)
{
    unsigned long gen = recipes_generation();
    struct db_res *res = NULL;
    char *e;
    int n, err;

    if ((*expr = expand_get(a, w)))
        return 0;
    err = db_query(c,
                   "SELECT term FROM recipes_fts_vocab WHERE term >= $1 AND term < $2 "
                   "ORDER BY term LIMIT 65",
                   DB_PARAMS(DBT(w), DBT(arena_sprintf(a, "%s\xf4\x8f\xbf\xbf", w))), &res, ei);
    if (err)
        return err;
    n = db_nrows(res);
    e = arena_sprintf(a, "\"%s\"", w);
    for (int i = 0; i < n && n <= FTS_TERMS_MAX; i++)
        if (strcmp(db_get(res, i, 0), w) != 0) /* the word itself is always there */
            e = arena_sprintf(a, "%s OR \"%s\"", e, db_get(res, i, 0));
    db_res_free(res);
    *expr = n > FTS_TERMS_MAX ? arena_sprintf(a, "\"%s\"*", w) : arena_sprintf(a, "(%s)", e);
    expand_put(w, *expr, gen);
    return 0;
}

/* SQLite: the words ANDed: a one-letter word as the exact term "w", two or
 * three letters as a prefix query "ch"* (prefix index), longer ones as
 * their terms (expand_word). */
static int sqlite_expr(struct db_conn *c, struct arena *a, struct fts *f, struct souk_errinfo *ei)
{
    char *all = "";
    int err;

    for (int i = 0; i < f->nwords; i++) {
        const char *w = f->words[i], *e;
        size_t nc = word_chars(w);
        if (nc > 3 && (err = expand_word(c, a, w, &e, ei)))
            return err;
        if (nc <= 3)
            e = arena_sprintf(a, "\"%s\"%s", w, nc >= RECIPE_Q_PREFIX_MIN ? "*" : "");
        all = arena_sprintf(a, "%s%s%s", all, i ? " AND " : "", e);
    }
    f->all = all;
    return 0;
}

static int orders_by_created(enum recipe_order o)
{
    return o == RECIPE_ORDER_NEWEST || o == RECIPE_ORDER_OLDEST;
}

/* SQLite: the plan. created_at orderings are driven by FTS5 (recipes_fts's
 * rowid is recipes.seq, which sorts like created_at): a page reads about
 * page_size matches whatever the table's size. Other orderings cannot be:
 * with many matches (more than sqrt(limit * rows), where walking the
 * ordering's index, limit * rows / matches rows, beats fetching and sorting
 * every match) the matches are materialised once and the index walked
 * against them; with fewer they are fetched by seq and sorted. Counting
 * stops at that threshold, so the choice costs O(sqrt(limit * rows)). */
static int sqlite_fts(struct db_conn *c, struct arena *a, enum recipe_order o, int limit,
                      struct fts *f, struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int64_t rows, cap;
    int err;

    if ((err = sqlite_expr(c, a, f, ei)))
        return err;
    f->plan = FTS_DRIVE;
    if (orders_by_created(o))
        return 0;
    if ((err = db_query(c, "SELECT COALESCE(MAX(rowid), 0) FROM recipes", DB_NOPARAMS, &res, ei)))
        return err;
    rows = db_int(res, 0, 0);
    db_res_free(res);
    for (cap = 1; cap * cap < (int64_t)limit * rows; cap++)
        ;
    err = db_query(c,
                   "SELECT COUNT(*) FROM (SELECT 1 FROM recipes_fts WHERE recipes_fts MATCH $1 "
                   "LIMIT $2)",
                   DB_PARAMS(DBT(f->all), DBI(cap + 1)), &res, ei);
    if (err)
        return err;
    f->plan = db_int(res, 0, 0) > cap ? FTS_WALK : FTS_LOOKUP;
    db_res_free(res);
    return 0;
}

/* SQLite's public_match: every word of q is (for a one-letter word: is) a
 * word of the title or the summary, ASCII case-folded, cut as q is. Checked
 * here rather than by probing FTS5 per row (a prefix probe re-reads every
 * matching doclist). It can only be stricter than FTS5, never looser: a
 * word FTS5 matches through its diacritics folding ("cafe" in "Café") makes
 * no public match here, so a locked recipe is hidden from a non-opener
 * rather than matched through text they may not see. */
static int text_has_word(const char *text, const char *w, int prefix)
{
    size_t n = strlen(w);

    for (const char *p = text; *p;) {
        const char *s;
        while (*p && !word_byte((unsigned char)*p))
            p++;
        for (s = p; *p && word_byte((unsigned char)*p); p++)
            ;
        if ((size_t)(p - s) >= n && (prefix || (size_t)(p - s) == n) && strncasecmp(s, w, n) == 0)
            return 1;
    }
    return 0;
}

static int public_match(const struct fts *f, const struct recipe *r)
{
    for (int i = 0; i < f->nwords; i++) {
        int pre = word_is_prefix(f->words[i]);
        if (!text_has_word(r->title, f->words[i], pre) &&
            !text_has_word(r->summary, f->words[i], pre))
            return 0;
    }
    return 1;
}

/* ---- lists ---------------------------------------------------------------------------- */

#define QB_SQL_MAX    4096
#define QB_PARAMS_MAX 32

/* A statement under construction: SQL text and its parameters. */
struct qb {
    struct arena *a;
    char sql[QB_SQL_MAX];
    size_t len;
    struct db_param p[QB_PARAMS_MAX];
    int np;
};

static void qb_puts(struct qb *b, const char *s)
{
    int w = snprintf(b->sql + b->len, sizeof b->sql - b->len, "%s", s);

    if (w > 0)
        b->len = b->len + (size_t)w < sizeof b->sql ? b->len + (size_t)w : sizeof b->sql - 1;
}

/* Appends `frag`, in which each "?" becomes the next of ps[0..n). */
static void qb_add(struct qb *b, const char *frag, const struct db_param *ps, int n)
{
    int k = 0;

    for (const char *f = frag; *f && b->len + 8 < sizeof b->sql; f++) {
        if (*f == '?' && k < n && b->np < QB_PARAMS_MAX) {
            b->p[b->np++] = ps[k++];
            b->len += (size_t)snprintf(b->sql + b->len, sizeof b->sql - b->len, "$%d", b->np);
        } else {
            b->sql[b->len++] = *f;
            b->sql[b->len] = 0;
        }
    }
}

struct order_spec {
    const char *col; /* sort column (with collation where needed) */
    int desc;
    int text; /* key is text */
};

static struct order_spec order_of(enum recipe_order o, enum db_dialect d)
{
    const char *title = d == DB_PGSQL ? "r.title COLLATE \"C\"" : "r.title";
    switch (o) {
    case RECIPE_ORDER_OLDEST:
        return (struct order_spec){"r.created_at", 0, 0};
    case RECIPE_ORDER_COOK:
        return (struct order_spec){"r.cook_minutes", 0, 0};
    case RECIPE_ORDER_COOK_DESC:
        return (struct order_spec){"r.cook_minutes", 1, 0};
    case RECIPE_ORDER_TITLE:
        return (struct order_spec){title, 0, 1};
    case RECIPE_ORDER_TITLE_DESC:
        return (struct order_spec){title, 1, 1};
    default:
        return (struct order_spec){"r.created_at", 1, 0};
    }
}

static void add_filters(struct qb *b, const struct recipe_filter *f, enum db_dialect d,
                        const struct fts *fts)
{
    const char *has_tag =
        d == DB_SQLITE ? " AND instr(r.dietary_tags, ?) > 0" : " AND strpos(r.dietary_tags, ?) > 0";

    if (f->q && d == DB_SQLITE && fts->plan == FTS_DRIVE)
        qb_add(b, " AND f.recipes_fts MATCH ?", DB_PARAMS(DBT(fts->all)));
    else if (f->q && d == DB_SQLITE && fts->plan == FTS_WALK) /* "+": keep the ordering's index */
        qb_add(b, " AND +r.seq IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH ?)",
               DB_PARAMS(DBT(fts->all)));
    else if (f->q && d == DB_SQLITE)
        qb_add(b, " AND r.seq IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH ?)",
               DB_PARAMS(DBT(fts->all)));
    else if (f->q)
        qb_add(b, " AND r.search @@ to_tsquery('simple', ?)", DB_PARAMS(DBT(fts->all)));
    qb_puts(b, " AND r.hidden_at IS NULL"); /* hidden by staff: in no list or search */
    if (f->cuisine)
        qb_add(b, " AND r.cuisine = ?", DB_PARAMS(DBT(f->cuisine)));
    for (int i = 0; i < f->ndietary; i++) {
        char *tag = arena_sprintf(b->a, "|%s|", f->dietary[i]);
        for (char *p = tag; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        qb_add(b, has_tag, DB_PARAMS(DBT(tag)));
    }
    if (f->difficulty)
        qb_add(b, " AND r.difficulty = ?", DB_PARAMS(DBT(f->difficulty)));
    if (f->max_cook_minutes >= 0)
        qb_add(b, " AND r.cook_minutes <= ?", DB_PARAMS(DBI(f->max_cook_minutes)));
    if (f->chef_id)
        qb_add(b, " AND r.chef_id = ?", DB_PARAMS(DBT(f->chef_id)));
    if (f->is_premium >= 0)
        qb_add(b, " AND r.is_premium = ?", DB_PARAMS(DBB(f->is_premium)));
}

/* Keyset on FTS5's rowid (seq) for an FTS-driven search: the edge row's seq,
 * looked up by id; if it was deleted since, the bound of its microsecond. */
static void add_keyset_seq(struct qb *b, int desc, const struct recipe_cursor *cur, int limit)
{
    int fetch_desc = desc ^ (cur->has && cur->backwards);
    const char *dir = fetch_desc ? "DESC" : "ASC";

    if (cur->has)
        qb_add(b,
               fetch_desc ? " AND f.rowid < COALESCE((SELECT seq FROM recipes WHERE id = ?), "
                            "? * 1024)"
                          : " AND f.rowid > COALESCE((SELECT seq FROM recipes WHERE id = ?), "
                            "? * 1024 + 1023)",
               DB_PARAMS(DBT(cur->id), DBI(cur->k_int)));
    qb_puts(b, arena_sprintf(b->a, " ORDER BY f.rowid %s LIMIT %d", dir, limit));
}

static void add_keyset(struct qb *b, const struct order_spec *os, const struct recipe_cursor *cur,
                       int limit)
{
    int fetch_desc = os->desc ^ (cur->has && cur->backwards);
    const char *dir = fetch_desc ? "DESC" : "ASC";

    if (cur->has) {
        char *frag =
            arena_sprintf(b->a, " AND (%s, r.id) %s (?, ?)", os->col, fetch_desc ? "<" : ">");
        qb_add(b, frag, DB_PARAMS(os->text ? DBT(cur->k_str) : DBI(cur->k_int), DBT(cur->id)));
    }
    qb_puts(b, arena_sprintf(b->a, " ORDER BY %s %s, r.id %s LIMIT %d", os->col, dir, dir, limit));
}

#define FROM_FTS                                                                                   \
    " FROM recipes_fts f CROSS JOIN recipes r ON r.seq = f.rowid"                                  \
    " JOIN vendor_profiles v ON v.id = r.chef_id"

/* The statement of a list; f->q's search prepared in *fts. */
static int list_sql(struct db_conn *c, const struct recipe_filter *f, const struct recipe_cursor *cur,
                    int limit, struct qb *b, struct fts *fts, struct souk_errinfo *ei)
{
    enum db_dialect d = db_conn_dialect(c);
    struct order_spec os = order_of(f->order, d);
    int err;

    if (f->q)
        fts->nwords = q_words(b->a, f->q, fts->words);
    if (f->q && d == DB_SQLITE && (err = sqlite_fts(c, b->a, f->order, limit, fts, ei)))
        return err;
    if (f->q && d == DB_PGSQL)
        pg_fts(b->a, fts);
    qb_puts(b, "SELECT " RCOLS);
    if (f->q && d == DB_PGSQL)
        qb_add(b, ", r.search @@ to_tsquery('simple', ?)", DB_PARAMS(DBT(fts->pub)));
    qb_puts(b, fts->plan == FTS_DRIVE ? FROM_FTS " WHERE 1 = 1" : RFROM " WHERE 1 = 1");
    add_filters(b, f, d, fts);
    if (fts->plan == FTS_DRIVE)
        add_keyset_seq(b, os.desc, cur, limit);
    else
        add_keyset(b, &os, cur, limit);
    return 0;
}

int recipes_list(struct db_conn *c, const struct recipe_filter *f, const struct recipe_cursor *cur,
                 int limit, struct arena *a, struct recipe **out, int *n, struct souk_errinfo *ei)
{
    struct qb *b = arena_calloc(a, 1, sizeof *b);
    struct fts *fts = arena_calloc(a, 1, sizeof *fts);
    struct db_res *res = NULL;
    int err, pg = db_conn_dialect(c) == DB_PGSQL;

    b->a = a;
    if ((err = list_sql(c, f, cur, limit, b, fts, ei)) ||
        (err = db_query(c, b->sql, b->p, b->np, &res, ei)))
        return err;
    *n = db_nrows(res);
    *out = arena_calloc(a, (size_t)(*n ? *n : 1), sizeof **out);
    for (int i = 0; i < *n; i++) {
        struct recipe *r = &(*out)[i];
        row_to_recipe(res, i, a, r);
        r->public_match = !f->q ? 1 : pg ? db_bool(res, i, 19) : public_match(fts, r);
    }
    db_res_free(res);
    return 0;
}

/* ---- vendor statistics (vendors.h) ----------------------------------------------- */

static int fill_stats(struct db_conn *c, const char *const *ids, int n, const char *viewer,
                      struct vendor_stats *out, struct souk_errinfo *ei)
{
    int64_t all[RECIPE_COUNT_BATCH_MAX], premium[RECIPE_COUNT_BATCH_MAX];
    int err = recipes_count_for_chefs(c, ids, n, all, premium, ei);

    (void)viewer;
    for (int i = 0; !err && i < n; i++) {
        out[i].recipe_count = all[i];
        out[i].premium_recipe_count = premium[i];
    }
    return err;
}

static const struct vendor_stats_source stats_source = {fill_stats};

void recipes_vendor_stats_register(void)
{
    vendors_register_stats(&stats_source);
}

/* ---- moderation ------------------------------------------------------------------ */

int recipes_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err;

    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    err = db_exec(c,
                  "UPDATE recipes SET hidden_at = CASE WHEN CAST($2 AS INTEGER) = 1 THEN "
                  "COALESCE(hidden_at, CAST($3 AS BIGINT)) ELSE NULL END WHERE id = $1",
                  DB_PARAMS(DBT(id), DBI(hidden ? 1 : 0), DBI(clock_now_us())), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    if (!err)
        db_after_commit(c, bump, NULL, NULL); /* cached lists and details are stale */
    return err;
}

/* The moderation kind "recipe": its chef's user; staff and the chef always
 * see it, others while it is not hidden (a locked recipe's teaser counts). */
static int recipe_target(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                         char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    struct recipe r;
    int err = recipes_get(c, id, a, &r, ei);

    if (!err) {
        *hidden = r.hidden_at != 0;
        if (staff || (viewer_id && !strcmp(viewer_id, r.chef_user_id)) || !*hidden)
            snprintf(author, 37, "%s", r.chef_user_id);
        else
            err = souk_fail(ei, SOUK_NOT_FOUND, "No such recipe.");
    }
    arena_free(a);
    return err;
}

static const struct moderation_kind recipe_kind = {"recipe", recipe_target, recipes_set_hidden};

void recipes_moderation_register(void)
{
    moderation_register_kind(&recipe_kind);
}

/* ---- the export and the erasure (userdata.h) ------------------------------------ */

#define RECIPES_EXPORT_MAX 100000

static int export_recipes(struct db_conn *c, const struct userdata_who *w, json_t **out,
                          struct souk_errinfo *ei)
{
    struct db_res *res;
    struct recipe r;
    int err;

    *out = json_array();
    if (!w->vendor_id[0])
        return SOUK_OK;
    err = db_query(c, "SELECT " RCOLS RFROM " WHERE r.chef_id = $1 ORDER BY r.created_at DESC, "
                      "r.id DESC LIMIT $2",
                   DB_PARAMS(DBT(w->vendor_id), DBI(RECIPES_EXPORT_MAX)), &res, ei);
    if (err)
        return err;
    for (int i = 0; i < db_nrows(res); i++) {
        row_to_recipe(res, i, w->a, &r);
        json_array_append_new(*out, recipes_to_json(&r, RECIPE_OPEN));
    }
    db_res_free(res);
    return SOUK_OK;
}

static int export_purchases(struct db_conn *c, const struct userdata_who *w, json_t **out,
                            struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT id, recipe_id, status, created_at FROM recipe_purchases WHERE "
                       "user_id = $1 ORDER BY created_at DESC, id DESC",
                       DB_PARAMS(DBT(w->user_id)), &r, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(*out, json_pack("{s:s, s:s, s:s, s:o}", "id", db_get(r, i, 0),
                                              "recipe_id", db_get(r, i, 1), "status",
                                              db_get(r, i, 2), "created_at",
                                              json_time(db_int(r, i, 3))));
    db_res_free(r);
    return SOUK_OK;
}

/* An erased chef's recipes go (their ended auctions and grants with them). */
static int erase_recipes(struct db_conn *c, const struct userdata_who *w,
                         struct souk_errinfo *ei)
{
    int err;

    if (!w->vendor_id[0])
        return SOUK_OK;
    err = db_exec(c, "DELETE FROM recipes WHERE chef_id = $1", DB_PARAMS(DBT(w->vendor_id)), NULL,
                  ei);
    if (!err)
        db_after_commit(c, bump, NULL, NULL); /* no cached page or row keeps them */
    return err;
}

static const struct userdata_part recipes_part = {
    .key = "recipes", .export_fn = export_recipes, .erase = erase_recipes, .order = 600};
static const struct userdata_part purchases_part = {
    .key = "purchases", .export_fn = export_purchases, .order = 600};

void recipes_userdata_register(void)
{
    userdata_register(&recipes_part);
    userdata_register(&purchases_part);
}
