/* recipes.c - the recipes table: create, read, update, delete, the lists
 * and the full-text search behind /api/recipes/, /global/ and /search/.
 *
 * Every read joins vendor_profiles once for the chef's owner and name, so
 * lists embed `chef` without a query per row.
 *
 * Full text (both dialects side by side in fts_*):
 *   SQLite      recipes_fts (FTS5, external content, kept by triggers);
 *               the public part is the column filter {title summary}.
 *   PostgreSQL  recipes.search, a generated tsvector (title+summary weigh
 *               A, ingredients B) with a GIN index; the public part is the
 *               weight filter (word:*A).
 * On SQLite each word's prefix is first expanded into the exact terms it
 * covers (recipes_fts_vocab: cheaper doclists, and per-term document
 * counts), and the search runs one of two ways, chosen per query as a
 * planner would (sqlite_fts): few matches -> look the matching rows up by
 * rowid and sort them; many -> walk the ordering's index and test each row
 * against the matches, materialised once (`+r.rowid IN (...)`), stopping at
 * the page size. The public_match column probes FTS5 per output row.
 * q is cut into words here (letters, digits and any non-ASCII byte); every
 * word must match, as a prefix, case-insensitively. Each row also says
 * whether q matches its public fields alone (public_match), which the
 * search post-filter combines with the access rule (recipes_http.c).
 *
 * Thread safety: no state but an atomic generation counter.
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "recipes/recipes.h"

#define RCOLS                                                                                      \
    "r.id, r.chef_id, v.user_id, v.business_name, r.title, r.summary, r.ingredients, "             \
    "r.instructions, r.cuisine, r.dietary, r.difficulty, r.cook_minutes, r.is_premium, "           \
    "r.required_rank, r.price, r.currency, r.created_at, r.updated_at"
#define RFROM       " FROM recipes r JOIN vendor_profiles v ON v.id = r.chef_id"
#define Q_WORDS_MAX 16

static atomic_ulong generation = 1;

unsigned long recipes_generation(void)
{
    return atomic_load(&generation);
}

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add(&generation, 1);
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
                       "FROM recipes WHERE chef_id = $1",
                       DB_PARAMS(DBT(chef_id)), &res, ei);

    *all = err ? 0 : db_int(res, 0, 0);
    *premium = err ? 0 : db_int(res, 0, 1);
    db_res_free(res);
    return err;
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

/* A search as each dialect runs it. */
struct fts {
    const char *all; /* matches over every searchable field */
    const char *pub; /* matches over the public teaser (title, summary) */
    int ordered;     /* SQLite: walk the ordering's index, test rows against the matches */
};

/* PostgreSQL: w1:* & w2:*  (public: w1:*A & w2:*A, weight A = title and summary) */
static void pg_fts(struct arena *a, const char *q, struct fts *out)
{
    const char *words[Q_WORDS_MAX];
    int n = q_words(a, q, words);
    char *all = "", *pub = "";

    for (int i = 0; i < n; i++) {
        all = arena_sprintf(a, "%s%s%s:*", all, i ? " & " : "", words[i]);
        pub = arena_sprintf(a, "%s%s%s:*A", pub, i ? " & " : "", words[i]);
    }
    out->all = all;
    out->pub = pub;
}

#define FTS_TERMS_MAX 64

static const char *fts5_quote(struct arena *a, const char *s)
{
    char *out = arena_alloc(a, strlen(s) * 2 + 3), *p = out;

    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    *p++ = '"';
    *p = 0;
    return out;
}

/* SQLite: the terms starting with `word` (vocabulary table), as an FTS5
 * expression of exact terms ("chickpea" OR "chickpeas"), which FTS5 probes
 * by rowid cheaply; a prefix query ("chick"*) only when too many terms match.
 * *docs = documents containing one of them (an upper bound). */
static int fts5_word(struct db_conn *c, struct arena *a, const char *word, const char **expr,
                     int64_t *docs, struct souk_errinfo *ei)
{
    const char *upper = arena_sprintf(a, "%s\xf4\x8f\xbf\xbf", word);
    struct db_res *res = NULL;
    char *e = "";
    int n, err = db_query(c,
                          "SELECT term, doc FROM recipes_fts_vocab WHERE term >= $1 AND "
                          "term < $2 ORDER BY term LIMIT 65",
                          DB_PARAMS(DBT(word), DBT(upper)), &res, ei);

    if (err)
        return err;
    n = db_nrows(res);
    *docs = 0;
    for (int i = 0; i < n && n <= FTS_TERMS_MAX; i++) {
        e = arena_sprintf(a, "%s%s%s", e, i ? " OR " : "", fts5_quote(a, db_get(res, i, 0)));
        *docs += db_int(res, i, 1);
    }
    db_res_free(res);
    *expr = n == 0               ? fts5_quote(a, word)
            : n <= FTS_TERMS_MAX ? arena_sprintf(a, "(%s)", e)
                                 : arena_sprintf(a, "%s*", fts5_quote(a, word));
    if (n <= FTS_TERMS_MAX)
        return 0;
    err = db_query(c,
                   "SELECT COALESCE(SUM(doc), 0) FROM recipes_fts_vocab WHERE term >= $1 "
                   "AND term < $2",
                   DB_PARAMS(DBT(word), DBT(upper)), &res, ei);
    *docs = err ? 0 : db_int(res, 0, 0);
    db_res_free(res);
    return err;
}

/* SQLite: the expressions, and the plan a planner would choose: with few
 * matches, fetch them by rowid and sort; with many, walking the ordering's
 * index (expected rows walked: limit * rows / matches) beats fetching and
 * sorting every match. */
static int sqlite_fts(struct db_conn *c, struct arena *a, const char *q, int limit, struct fts *out,
                      struct souk_errinfo *ei)
{
    const char *words[Q_WORDS_MAX], *expr;
    int nw = q_words(a, q, words), err;
    int64_t matches = INT64_MAX, rows, docs;
    struct db_res *res = NULL;
    char *all = "";

    for (int i = 0; i < nw; i++) {
        if ((err = fts5_word(c, a, words[i], &expr, &docs, ei)))
            return err;
        all = arena_sprintf(a, "%s%s%s", all, i ? " AND " : "", expr);
        matches = docs < matches ? docs : matches; /* every word must match */
    }
    out->all = all;
    out->pub = arena_sprintf(a, "{title summary} : (%s)", all);
    if ((err = db_query(c, "SELECT COALESCE(MAX(rowid), 0) FROM recipes", DB_NOPARAMS, &res, ei)))
        return err;
    rows = db_int(res, 0, 0);
    db_res_free(res);
    out->ordered =
        nw > 0 && matches > 0 && (double)limit * (double)rows / (double)matches < (double)matches;
    return 0;
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

    if (f->q && d == DB_SQLITE && fts->ordered) /* "+": no rowid lookup, keep the ordering */
        qb_add(b, " AND +r.rowid IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH ?)",
               DB_PARAMS(DBT(fts->all)));
    else if (f->q && d == DB_SQLITE)
        qb_add(b, " AND r.rowid IN (SELECT rowid FROM recipes_fts WHERE recipes_fts MATCH ?)",
               DB_PARAMS(DBT(fts->all)));
    else if (f->q)
        qb_add(b, " AND r.search @@ to_tsquery('simple', ?)", DB_PARAMS(DBT(fts->all)));
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

int recipes_list(struct db_conn *c, const struct recipe_filter *f, const struct recipe_cursor *cur,
                 int limit, struct arena *a, struct recipe **out, int *n, struct souk_errinfo *ei)
{
    enum db_dialect d = db_conn_dialect(c);
    struct order_spec os = order_of(f->order, d);
    struct qb *b = arena_calloc(a, 1, sizeof *b);
    struct db_res *res = NULL;
    struct fts fts = {0};
    int err;

    b->a = a;
    qb_puts(b, "SELECT " RCOLS);
    if (f->q && d == DB_SQLITE && (err = sqlite_fts(c, a, f->q, limit, &fts, ei)))
        return err;
    if (f->q && d == DB_PGSQL)
        pg_fts(a, f->q, &fts);
    if (f->q && d == DB_SQLITE) /* evaluated per output row only */
        qb_add(b,
               ", EXISTS (SELECT 1 FROM recipes_fts WHERE recipes_fts MATCH ? AND "
               "recipes_fts.rowid = r.rowid)",
               DB_PARAMS(DBT(fts.pub)));
    else if (f->q)
        qb_add(b, ", r.search @@ to_tsquery('simple', ?)", DB_PARAMS(DBT(fts.pub)));
    qb_puts(b, RFROM " WHERE 1 = 1");
    add_filters(b, f, d, &fts);
    add_keyset(b, &os, cur, limit);
    if ((err = db_query(c, b->sql, b->p, b->np, &res, ei)))
        return err;
    *n = db_nrows(res);
    *out = arena_calloc(a, (size_t)(*n ? *n : 1), sizeof **out);
    for (int i = 0; i < *n; i++) {
        row_to_recipe(res, i, a, &(*out)[i]);
        (*out)[i].public_match = f->q ? db_bool(res, i, 18) : 1;
    }
    db_res_free(res);
    return 0;
}
