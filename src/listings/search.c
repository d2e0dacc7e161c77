/* search.c - GET /api/listings/ and /api/listings/my/: one SQL statement
 * built from the filters (see listings.h, API.md § "Listings, messaging and
 * moderation").
 *
 * Shape: SELECT * FROM (SELECT cols, dist, dist_ck FROM listings WHERE
 * <filters>) AS s WHERE [dist <= R] [keyset] ORDER BY <keys>, id DESC LIMIT n.
 * - attr. equality: JSONB containment (@>) on PostgreSQL, which the GIN
 *   (jsonb_path_ops) index answers; json_type/json_extract on SQLite. A
 *   value matches a string equal to it, a number equal to it (when it is a
 *   number) and a boolean (when it is true/false).
 * - __gte/__lte: numbers only (jsonb_typeof / json_type guard the cast).
 * - near: a latitude/longitude box the (lat, lon) index can use, then the
 *   exact haversine distance (R = 6371.0088 km) against the radius.
 * - the keyset spans the ordering keys then id descending (ties), in any mix
 *   of directions, expanded into the OR-of-prefixes form.
 *
 * Thread safety: pure; everything lives in the caller's arena.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "db/db.h"
#include "listings/internal.h"
#include "listings/listings.h"

#define SQL_MAX 8192
#define PARAMS_MAX 96
#define KM_PER_DEGREE (LISTING_EARTH_KM * M_PI / 180.0)

struct sqlb {
    char sql[SQL_MAX];
    size_t len;
    struct db_param p[PARAMS_MAX];
    int np;
    int pg;
    struct arena *a;
};

static void put(struct sqlb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sqlb *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b->sql + b->len, sizeof b->sql - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len = b->len + (size_t)n < sizeof b->sql ? b->len + (size_t)n : sizeof b->sql - 1;
}

/* Binds p and returns its number. */
static int bind(struct sqlb *b, struct db_param p)
{
    if (b->np < PARAMS_MAX)
        b->p[b->np++] = p;
    return b->np;
}

static int bind_double(struct sqlb *b, double v)
{
    return bind(b, DBT(listing_double_text(b->a, v)));
}

/* ---- attr. filters ---------------------------------------------------------------- */

/* {"key": value} as JSON text (arena), for containment. */
static const char *containment(struct sqlb *b, const char *key, json_t *value)
{
    json_t *o = json_object();
    char *txt, *out;

    json_object_set_new(o, key, value);
    txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    out = arena_strdup(b->a, txt);
    free(txt);
    return out;
}

static void attr_eq_pg(struct sqlb *b, const struct listing_attr_filter *f)
{
    put(b, " AND (attributes @> CAST($%d AS jsonb)",
        bind(b, DBT(containment(b, f->key, json_string(f->text)))));
    if (f->number)
        put(b, " OR attributes @> CAST($%d AS jsonb)",
            bind(b, DBT(containment(b, f->key, json_loads(f->number, JSON_DECODE_ANY, NULL)))));
    if (f->boolean >= 0)
        put(b, " OR attributes @> CAST($%d AS jsonb)",
            bind(b, DBT(containment(b, f->key, json_boolean(f->boolean)))));
    put(b, ")");
}

static void attr_eq_sqlite(struct sqlb *b, const struct listing_attr_filter *f, int path)
{
    put(b, " AND ((json_type(attributes, $%d) = 'text' AND json_extract(attributes, $%d) = $%d)",
        path, path, bind(b, DBT(f->text)));
    if (f->number)
        put(b, " OR (json_type(attributes, $%d) IN ('integer', 'real') AND "
            "json_extract(attributes, $%d) = CAST($%d AS REAL))", path, path,
            bind(b, DBT(f->number)));
    if (f->boolean >= 0)
        put(b, " OR json_type(attributes, $%d) = '%s'", path, f->boolean ? "true" : "false");
    put(b, ")");
}

static void attr_range(struct sqlb *b, const struct listing_attr_filter *f)
{
    const char *op = f->op == LISTING_ATTR_GTE ? ">=" : "<=";
    int k;

    if (b->pg) {
        k = bind(b, DBT(f->key));
        put(b, " AND (CASE WHEN jsonb_typeof(attributes -> CAST($%d AS text)) = 'number' THEN "
            "CAST(attributes ->> CAST($%d AS text) AS numeric) END) %s CAST($%d AS numeric)",
            k, k, op, bind(b, DBT(f->number)));
        return;
    }
    k = bind(b, DBT(arena_sprintf(b->a, "$.\"%s\"", f->key)));
    put(b, " AND (CASE WHEN json_type(attributes, $%d) IN ('integer', 'real') THEN "
        "json_extract(attributes, $%d) END) %s CAST($%d AS REAL)", k, k, op,
        bind(b, DBT(f->number)));
}

static void attr_filters(struct sqlb *b, const struct listing_filter *f)
{
    for (int i = 0; i < f->nattrs; i++) {
        const struct listing_attr_filter *af = &f->attrs[i];
        if (af->op != LISTING_ATTR_EQ)
            attr_range(b, af);
        else if (b->pg)
            attr_eq_pg(b, af);
        else
            attr_eq_sqlite(b, af, bind(b, DBT(arena_sprintf(b->a, "$.\"%s\"", af->key))));
    }
}

/* ---- near ------------------------------------------------------------------------- */

/* The box around (lat, lon) that holds every point within the radius. */
static void near_box(struct sqlb *b, const struct listing_filter *f)
{
    double dlat = f->radius_km / KM_PER_DEGREE * 1.0001, r = f->radius_km / LISTING_EARTH_KM;
    double s, dlon;

    put(b, " AND lat IS NOT NULL");
    if (f->lat + dlat >= 90.0 || f->lat - dlat <= -90.0)
        return; /* the circle holds a pole: every longitude */
    put(b, " AND lat >= CAST($%d AS DOUBLE PRECISION) AND lat <= CAST($%d AS DOUBLE PRECISION)",
        bind_double(b, f->lat - dlat), bind_double(b, f->lat + dlat));
    s = r < M_PI / 2 ? sin(r) / cos(f->lat * M_PI / 180.0) : 2.0;
    if (s >= 1.0)
        return;
    dlon = asin(s) * 180.0 / M_PI * 1.0001;
    if (f->lon - dlon < -180.0 || f->lon + dlon > 180.0) {
        double lo = f->lon - dlon < -180.0 ? f->lon - dlon + 360.0 : f->lon - dlon;
        double hi = f->lon + dlon > 180.0 ? f->lon + dlon - 360.0 : f->lon + dlon;
        put(b, " AND (lon >= CAST($%d AS DOUBLE PRECISION) OR lon <= CAST($%d AS DOUBLE "
            "PRECISION))", bind_double(b, lo), bind_double(b, hi));
        return;
    }
    put(b, " AND lon >= CAST($%d AS DOUBLE PRECISION) AND lon <= CAST($%d AS DOUBLE PRECISION)",
        bind_double(b, f->lon - dlon), bind_double(b, f->lon + dlon));
}

/* The haversine distance in km from the filter's point, as SQL. */
static const char *distance_sql(struct sqlb *b, const struct listing_filter *f)
{
    int la = bind_double(b, f->lat), lo = bind_double(b, f->lon);

    return arena_sprintf(
        b->a,
        "(2 * %.4f * asin(sqrt(%s(1.0, power(sin(radians(lat - CAST($%d AS DOUBLE PRECISION)) "
        "/ 2), 2) + cos(radians(CAST($%d AS DOUBLE PRECISION))) * cos(radians(lat)) * "
        "power(sin(radians(lon - CAST($%d AS DOUBLE PRECISION)) / 2), 2)))))",
        LISTING_EARTH_KM, b->pg ? "LEAST" : "min", la, la, lo);
}

/* ---- plain filters ------------------------------------------------------------------ */

/* Appends "AND LOWER(title || ' ' || description) LIKE $k ESCAPE '!'" per word. */
static void words(struct sqlb *b, const char *q)
{
    char *copy = arena_strdup(b->a, q), *save = NULL;
    int n = 0;

    for (char *w = strtok_r(copy, " \t\r\n", &save); w && n < LISTING_Q_WORDS;
         w = strtok_r(NULL, " \t\r\n", &save), n++) {
        char *pat = arena_alloc(b->a, strlen(w) * 2 + 3), *o = pat;
        *o++ = '%';
        for (const char *s = w; *s; s++) {
            char ch = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
            if (ch == '%' || ch == '_' || ch == '!')
                *o++ = '!';
            *o++ = ch;
        }
        *o++ = '%';
        *o = 0;
        put(b, " AND LOWER(title || ' ' || description) LIKE $%d ESCAPE '!'", bind(b, DBT(pat)));
    }
}

static void plain_filters(struct sqlb *b, const struct listing_filter *f)
{
    if (f->owner_id) {
        put(b, " AND owner_id = $%d", bind(b, DBT(f->owner_id)));
        if (f->status)
            put(b, " AND status = $%d", bind(b, DBT(f->status)));
    } else {
        put(b, " AND status = 'active' AND hidden_at IS NULL");
    }
    if (f->vendor_id)
        put(b, " AND vendor_id = $%d", bind(b, DBT(f->vendor_id)));
    if (f->category)
        put(b, " AND category = $%d", bind(b, DBT(f->category)));
    if (f->city)
        put(b, " AND city = $%d", bind(b, DBT(f->city)));
    if (f->has_price_min || f->has_price_max)
        put(b, " AND currency = $%d", bind(b, DBT(f->currency ? f->currency : "usd")));
    if (f->has_price_min)
        put(b, " AND price >= $%d", bind(b, DBI(f->price_min)));
    if (f->has_price_max)
        put(b, " AND price <= $%d", bind(b, DBI(f->price_max)));
    if (f->q)
        words(b, f->q);
}

/* ---- ordering and keyset ---------------------------------------------------------- */

static const char *key_col(enum listing_order_key k)
{
    return k == LISTING_ORD_CREATED ? "created_at" : k == LISTING_ORD_PRICE ? "price" : "dist_ck";
}

void listings_sort_keys(const struct listing_filter *f, const struct listing *l, int64_t *k)
{
    for (int i = 0; i < f->norder; i++) {
        enum listing_order_key key = f->order[i].key;
        k[i] = key == LISTING_ORD_CREATED ? l->created_at
               : key == LISTING_ORD_PRICE ? l->price
                                          : l->distance_ck;
    }
}

/* (c1 op v1) OR (c1 = v1 AND c2 op v2) OR ... OR (c1 = v1 ... AND id op vid). */
static void keyset(struct sqlb *b, const struct listing_filter *f, const struct listing_cursor *c)
{
    int pk[LISTING_ORDER_MAX], pid;

    if (!c->has)
        return;
    for (int i = 0; i < f->norder; i++)
        pk[i] = bind(b, DBI(c->k[i]));
    pid = bind(b, DBT(c->id));
    put(b, " AND (");
    for (int i = 0; i <= f->norder; i++) {
        int desc = i < f->norder ? f->order[i].desc : 1;
        put(b, "%s(", i ? " OR " : "");
        for (int j = 0; j < i; j++)
            put(b, "%s = $%d AND ", key_col(f->order[j].key), pk[j]);
        put(b, "%s %s $%d)", i < f->norder ? key_col(f->order[i].key) : "id",
            (desc != c->backwards) ? "<" : ">", i < f->norder ? pk[i] : pid);
    }
    put(b, ")");
}

static void order_by(struct sqlb *b, const struct listing_filter *f, const struct listing_cursor *c)
{
    put(b, " ORDER BY ");
    for (int i = 0; i < f->norder; i++)
        put(b, "%s %s, ", key_col(f->order[i].key),
            (f->order[i].desc != c->backwards) ? "DESC" : "ASC");
    put(b, "id %s LIMIT %d", c->backwards ? "ASC" : "DESC", c->limit);
}

static void build(struct sqlb *b, const struct listing_filter *f, const struct listing_cursor *c)
{
    const char *dist = f->near ? distance_sql(b, f) : NULL;

    if (dist)
        put(b, "SELECT * FROM (SELECT " LISTING_COLS ", %s AS dist, CAST(ROUND(%s * 100) AS "
            "BIGINT) AS dist_ck FROM listings WHERE 1 = 1", dist, dist);
    else
        put(b, "SELECT * FROM (SELECT " LISTING_COLS ", NULL AS dist, 0 AS dist_ck FROM "
            "listings WHERE 1 = 1");
    plain_filters(b, f);
    attr_filters(b, f);
    if (f->near)
        near_box(b, f);
    put(b, ") AS s WHERE 1 = 1");
    if (f->near)
        put(b, " AND dist <= CAST($%d AS DOUBLE PRECISION)", bind_double(b, f->radius_km));
    keyset(b, f, c);
    order_by(b, f, c);
}

struct list_args {
    const struct listing_filter *f;
    const struct listing_cursor *c;
    struct arena *a;
    struct listing **out;
    int *n;
};

static int list_fn(struct db_conn *conn, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    struct sqlb *b = arena_calloc(la->a, 1, sizeof *b);
    struct db_res *r;
    int err;

    b->pg = db_conn_dialect(conn) == DB_PGSQL;
    b->a = la->a;
    build(b, la->f, la->c);
    if (b->np >= PARAMS_MAX || b->len >= sizeof b->sql - 1)
        return souk_fail(ei, SOUK_INVALID, "Too many filters.");
    if ((err = db_query(conn, b->sql, b->p, b->np, &r, ei)))
        return err;
    *la->n = db_nrows(r);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++) {
        struct listing *l = &(*la->out)[i];
        listing_from_row(r, i, la->a, l);
        l->has_distance = la->f->near;
        l->distance_ck = db_int(r, i, LISTING_NCOLS + 1);
    }
    db_res_free(r);
    return 0;
}

int listings_list(struct db *db, const struct listing_filter *f, const struct listing_cursor *cur,
                  struct arena *a, struct listing **out, int *n, struct souk_errinfo *ei)
{
    struct list_args la = {f, cur, a, out, n};
    return db_run(db, list_fn, &la, ei);
}
