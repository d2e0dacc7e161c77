/* catalog.c - services and variants: rules, SQL and transactions (see
 * catalog.h). No HTTP here.
 *
 * Stock moves only through catalog_stock_take_tx / catalog_stock_give_tx,
 * each one conditional statement, so that any number of concurrent orders
 * on one variant serialise on its row and never take more than is there.
 *
 * Thread safety: no shared state but the ordered-check hook, set once at
 * start-up before the server runs.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"

#define SERVICE_COLS "id, vendor_id, name, description, category, created_at, updated_at"
#define VARIANT_COLS \
    "id, service_id, name, price, currency, estimated_minutes, stock, created_at"
#define Q_WORDS_MAX 8

static catalog_ordered_fn ordered_check;

void catalog_set_ordered_check(catalog_ordered_fn fn)
{
    ordered_check = fn;
}

/* ---- rows ---------------------------------------------------------------------- */

static void row_to_service(const struct db_res *r, int i, struct arena *a, struct service *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", db_get(r, i, 0));
    snprintf(s->vendor_id, sizeof s->vendor_id, "%s", db_get(r, i, 1));
    s->name = arena_strdup(a, db_get(r, i, 2));
    s->description = arena_strdup(a, db_get(r, i, 3));
    s->category = arena_strdup(a, db_get(r, i, 4));
    s->created_at = db_int(r, i, 5);
    s->updated_at = db_int(r, i, 6);
}

static void row_to_variant(const struct db_res *r, int i, struct arena *a, struct variant *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->id, sizeof v->id, "%s", db_get(r, i, 0));
    snprintf(v->service_id, sizeof v->service_id, "%s", db_get(r, i, 1));
    v->name = arena_strdup(a, db_get(r, i, 2));
    v->price = db_int(r, i, 3);
    snprintf(v->currency, sizeof v->currency, "%s", db_get(r, i, 4));
    v->estimated_minutes = db_int(r, i, 5);
    v->stock = db_int(r, i, 6);
    v->created_at = db_int(r, i, 7);
}

/* Loads the variants of services[0..n) (one query) and hangs them on each. */
static int attach_variants(struct db_conn *c, struct arena *a, struct service *s, int n,
                           struct souk_errinfo *ei)
{
    struct db_param *p;
    struct db_res *r;
    char *sql;
    size_t len;
    int err;

    if (n == 0)
        return 0;
    p = arena_calloc(a, (size_t)n, sizeof *p);
    len = sizeof VARIANT_COLS + 128 + (size_t)n * 8;
    sql = arena_alloc(a, len);
    snprintf(sql, len, "SELECT " VARIANT_COLS " FROM variants WHERE service_id IN (");
    for (int i = 0; i < n; i++) {
        p[i] = DBT(s[i].id);
        snprintf(sql + strlen(sql), len - strlen(sql), "%s$%d", i ? ", " : "", i + 1);
    }
    snprintf(sql + strlen(sql), len - strlen(sql), ") ORDER BY created_at, id");
    if ((err = db_query(c, sql, p, n, &r, ei)))
        return err;
    for (int i = 0; i < n; i++)
        s[i].variants = arena_calloc(a, (size_t)db_nrows(r) + 1, sizeof *s[i].variants);
    for (int k = 0; k < db_nrows(r); k++) {
        for (int i = 0; i < n; i++) {
            if (strcmp(s[i].id, db_get(r, k, 1)) == 0) {
                row_to_variant(r, k, a, &s[i].variants[s[i].nvariants++]);
                break;
            }
        }
    }
    db_res_free(r);
    return 0;
}

static int load_service(struct db_conn *c, const char *id, struct arena *a, struct service *out,
                        struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c, "SELECT " SERVICE_COLS " FROM services WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such service.");
    }
    row_to_service(r, 0, a, out);
    db_res_free(r);
    return attach_variants(c, a, out, 1, ei);
}

/* ---- services ------------------------------------------------------------------ */

struct svc_args {
    const char *id;
    const char *vendor_id;
    const struct service_in *in;
    struct arena *a;
    struct service *out;
};

static int svc_create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct svc_args *s = arg;
    char id[UUID_STR_LEN];
    int64_t now = clock_now_us();
    int err;

    uuid_v7(id);
    err = db_exec(c,
                  "INSERT INTO services (id, vendor_id, name, description, category, "
                  "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                  DB_PARAMS(DBT(id), DBT(s->vendor_id), DBT(s->in->name),
                            DBT(s->in->description ? s->in->description : ""),
                            DBT(s->in->category ? s->in->category : ""), DBI(now)),
                  NULL, ei);
    return err ? err : load_service(c, id, s->a, s->out, ei);
}

int catalog_service_create(struct db *db, const char *vendor_id, const struct service_in *in,
                           struct arena *a, struct service *out, struct souk_errinfo *ei)
{
    struct svc_args s = {NULL, vendor_id, in, a, out};
    return db_tx_run(db, svc_create_tx, &s, ei);
}

static int svc_get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct svc_args *s = arg;
    return load_service(c, s->id, s->a, s->out, ei);
}

int catalog_service_get(struct db *db, const char *id, struct arena *a, struct service *out,
                        struct souk_errinfo *ei)
{
    struct svc_args s = {id, NULL, NULL, a, out};
    return db_run(db, svc_get_fn, &s, ei);
}

static int svc_update_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct svc_args *s = arg;
    int64_t n = 0;
    int err = db_exec(c,
                      "UPDATE services SET name = COALESCE($2, name), "
                      "description = COALESCE($3, description), "
                      "category = COALESCE($4, category), updated_at = $5 WHERE id = $1",
                      DB_PARAMS(DBT(s->id), DBT(s->in->name), DBT(s->in->description),
                                DBT(s->in->category), DBI(clock_now_us())),
                      &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such service.");
    return err ? err : load_service(c, s->id, s->a, s->out, ei);
}

int catalog_service_update(struct db *db, const char *id, const struct service_in *in,
                           struct arena *a, struct service *out, struct souk_errinfo *ei)
{
    struct svc_args s = {id, NULL, in, a, out};
    return db_tx_run(db, svc_update_tx, &s, ei);
}

/* SOUK_PRECONDITION when the orders module says the thing was ordered. */
static int refuse_if_ordered(struct db_conn *c, const char *id, int by_service,
                             struct souk_errinfo *ei)
{
    int ordered = 0, err;

    if (!ordered_check)
        return 0;
    if ((err = ordered_check(c, id, by_service, &ordered, ei)))
        return err;
    if (ordered)
        return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              "This %s has orders and cannot be deleted.",
                              by_service ? "service" : "variant");
    return 0;
}

static int svc_delete_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const char *id = arg;
    int64_t n = 0;
    int err = refuse_if_ordered(c, id, 1, ei);

    if (!err)
        err = db_exec(c, "DELETE FROM variants WHERE service_id = $1", DB_PARAMS(DBT(id)),
                      NULL, ei);
    if (!err)
        err = db_exec(c, "DELETE FROM services WHERE id = $1", DB_PARAMS(DBT(id)), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such service.");
    return err;
}

int catalog_service_delete(struct db *db, const char *id, struct souk_errinfo *ei)
{
    return db_tx_run(db, svc_delete_tx, (void *)id, ei);
}

/* ---- the public list ------------------------------------------------------------- */

struct list_args {
    const struct service_filter *f;
    const struct keyset *ks;
    struct arena *a;
    struct service **out;
    int *n;
};

/* Appends "AND LOWER(...) LIKE $k ESCAPE '!'" for each word of q. */
static void add_words(struct list_args *la, char *sql, size_t len, struct db_param *p, int *np)
{
    char *copy = arena_strdup(la->a, la->f->q), *save = NULL;
    int words = 0;

    for (char *w = strtok_r(copy, " \t\r\n", &save); w && words < Q_WORDS_MAX;
         w = strtok_r(NULL, " \t\r\n", &save), words++) {
        size_t wl = strlen(w);
        char *pat = arena_alloc(la->a, wl * 2 + 3), *o = pat;
        *o++ = '%';
        for (const char *s = w; *s; s++) {
            char ch = (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
            if (ch == '%' || ch == '_' || ch == '!')
                *o++ = '!';
            *o++ = ch;
        }
        *o++ = '%';
        *o = 0;
        p[(*np)++] = DBT(pat);
        snprintf(sql + strlen(sql), len - strlen(sql),
                 " AND LOWER(name || ' ' || description || ' ' || category) LIKE $%d "
                 "ESCAPE '!'", *np);
    }
}

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *la = arg;
    struct db_param p[4 + Q_WORDS_MAX];
    char sql[2048], buf[160];
    struct db_res *r;
    int np = 0, err;

    snprintf(sql, sizeof sql, "SELECT " SERVICE_COLS " FROM services WHERE 1 = 1");
    if (la->f->vendor_id) {
        p[np++] = DBT(la->f->vendor_id);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND vendor_id = $%d", np);
    }
    if (la->f->category) {
        p[np++] = DBT(la->f->category);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " AND category = $%d", np);
    }
    if (la->f->q)
        add_words(la, sql, sizeof sql, p, &np);
    if (la->ks->has_cursor) {
        p[np] = DBI(la->ks->k);
        p[np + 1] = DBT(la->ks->id);
        strncat(sql, keyset_where(la->ks, "created_at", "id", np + 1, buf, sizeof buf),
                sizeof sql - strlen(sql) - 1);
        np += 2;
    }
    strncat(sql, keyset_order(la->ks, "created_at", "id", buf, sizeof buf),
            sizeof sql - strlen(sql) - 1);
    if ((err = db_query(c, sql, p, np, &r, ei)))
        return err;
    *la->n = db_nrows(r);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++)
        row_to_service(r, i, la->a, &(*la->out)[i]);
    db_res_free(r);
    return attach_variants(c, la->a, *la->out, *la->n, ei);
}

int catalog_service_list(struct db *db, const struct service_filter *f, const struct keyset *ks,
                         struct arena *a, struct service **out, int *n, struct souk_errinfo *ei)
{
    struct list_args la = {f, ks, a, out, n};
    return db_run(db, list_fn, &la, ei);
}

/* ---- variants ------------------------------------------------------------------ */

struct var_args {
    const char *id;
    const struct variant_in *in;
    struct arena *a;
    struct variant *out;
    char *vendor_id;
};

static int load_variant(struct db_conn *c, struct var_args *v, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT v.id, v.service_id, v.name, v.price, v.currency, "
                       "v.estimated_minutes, v.stock, v.created_at, s.vendor_id "
                       "FROM variants v JOIN services s ON s.id = v.service_id WHERE v.id = $1",
                       DB_PARAMS(DBT(v->id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such variant.");
    }
    row_to_variant(r, 0, v->a, v->out);
    if (v->vendor_id)
        snprintf(v->vendor_id, 37, "%s", db_get(r, 0, 8));
    db_res_free(r);
    return 0;
}

static int var_create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct var_args *v = arg;
    const struct variant_in *in = v->in;
    char id[UUID_STR_LEN];
    int64_t now = clock_now_us(), n = 0;
    int err;

    uuid_v7(id);
    /* A no-op update rather than a SELECT: it also locks the service row, so
     * a concurrent delete of the service waits for this insert (or wins). */
    err = db_exec(c, "UPDATE services SET updated_at = updated_at WHERE id = $1",
                  DB_PARAMS(DBT(v->id)), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such service.");
    if (!err)
        err = db_exec(c,
                      "INSERT INTO variants (id, service_id, name, price, currency, "
                      "estimated_minutes, stock, created_at, updated_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                      DB_PARAMS(DBT(id), DBT(v->id), DBT(in->name), DBI(in->price),
                                DBT(in->currency ? in->currency : "usd"),
                                DBI(in->estimated_minutes < 0 ? 0 : in->estimated_minutes),
                                DBI(in->stock < 0 ? 0 : in->stock), DBI(now)),
                      NULL, ei);
    if (err)
        return err;
    v->id = id;
    err = load_variant(c, v, ei);
    v->id = NULL;
    return err;
}

int catalog_variant_create(struct db *db, const char *service_id, const struct variant_in *in,
                           struct arena *a, struct variant *out, struct souk_errinfo *ei)
{
    struct var_args v = {service_id, in, a, out, NULL};
    return db_tx_run(db, var_create_tx, &v, ei);
}

static int var_get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    return load_variant(c, arg, ei);
}

int catalog_variant_get(struct db *db, const char *id, struct arena *a, struct variant *out,
                        char vendor_id[37], struct souk_errinfo *ei)
{
    struct var_args v = {id, NULL, a, out, vendor_id};
    return db_run(db, var_get_fn, &v, ei);
}

static int var_update_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct var_args *v = arg;
    const struct variant_in *in = v->in;
    int64_t n = 0;
    int err = db_exec(
        c,
        "UPDATE variants SET name = COALESCE($2, name), "
        "price = CASE WHEN CAST($3 AS BIGINT) < 0 THEN price ELSE CAST($3 AS BIGINT) END, "
        "currency = COALESCE($4, currency), estimated_minutes = CASE WHEN CAST($5 AS BIGINT) "
        "< 0 THEN estimated_minutes ELSE CAST($5 AS INTEGER) END, "
        "stock = CASE WHEN CAST($6 AS BIGINT) < 0 THEN stock ELSE CAST($6 AS BIGINT) END, "
        "updated_at = $7 WHERE id = $1",
        DB_PARAMS(DBT(v->id), DBT(in->name), DBI(in->price), DBT(in->currency),
                  DBI(in->estimated_minutes), DBI(in->stock), DBI(clock_now_us())),
        &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such variant.");
    return err ? err : load_variant(c, v, ei);
}

int catalog_variant_update(struct db *db, const char *id, const struct variant_in *in,
                           struct arena *a, struct variant *out, struct souk_errinfo *ei)
{
    struct var_args v = {id, in, a, out, NULL};
    return db_tx_run(db, var_update_tx, &v, ei);
}

static int var_delete_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const char *id = arg;
    int64_t n = 0;
    int err = refuse_if_ordered(c, id, 0, ei);

    if (!err)
        err = db_exec(c, "DELETE FROM variants WHERE id = $1", DB_PARAMS(DBT(id)), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such variant.");
    return err;
}

int catalog_variant_delete(struct db *db, const char *id, struct souk_errinfo *ei)
{
    return db_tx_run(db, var_delete_tx, (void *)id, ei);
}

/* ---- stock ------------------------------------------------------------------------ */

int catalog_stock_take_tx(struct db_conn *tx, const char *variant_id, int64_t qty,
                          struct arena *a, struct stock_take *out, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx,
                       "UPDATE variants SET stock = stock - $2 WHERE id = $1 AND stock >= $2 "
                       "RETURNING stock, service_id, name, price, currency",
                       DB_PARAMS(DBT(variant_id), DBI(qty)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1) {
        out->stock_left = db_int(r, 0, 0);
        snprintf(out->service_id, sizeof out->service_id, "%s", db_get(r, 0, 1));
        out->variant_name = arena_strdup(a, db_get(r, 0, 2));
        out->price = db_int(r, 0, 3);
        snprintf(out->currency, sizeof out->currency, "%s", db_get(r, 0, 4));
    }
    int taken = db_nrows(r) == 1;
    db_res_free(r);
    if (!taken) {
        int64_t stock = -1;
        if ((err = catalog_stock_get_tx(tx, variant_id, &stock, ei)))
            return err;
        if (stock < 0)
            return souk_fail(ei, SOUK_NOT_FOUND, "No such variant.");
        return souk_fail_code(ei, SOUK_CONFLICT, "out_of_stock",
                              "Only %lld left of this variant.", (long long)stock);
    }
    /* The service row is never updated by an order: reading it after the
     * conditional update costs no contention. */
    err = db_query(tx, "SELECT vendor_id, name FROM services WHERE id = $1",
                   DB_PARAMS(DBT(out->service_id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1) {
        snprintf(out->vendor_id, sizeof out->vendor_id, "%s", db_get(r, 0, 0));
        out->service_name = arena_strdup(a, db_get(r, 0, 1));
    } else {
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such service.");
    }
    db_res_free(r);
    return err;
}

int catalog_stock_give_tx(struct db_conn *tx, const char *variant_id, int64_t qty,
                          int64_t *stock_left, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx, "UPDATE variants SET stock = stock + $2 WHERE id = $1 RETURNING stock",
                       DB_PARAMS(DBT(variant_id), DBI(qty)), &r, ei);
    if (err)
        return err;
    if (stock_left)
        *stock_left = db_nrows(r) ? db_int(r, 0, 0) : -1;
    db_res_free(r);
    return 0;
}

int catalog_stock_get_tx(struct db_conn *tx, const char *variant_id, int64_t *stock,
                         struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(tx, "SELECT stock FROM variants WHERE id = $1",
                       DB_PARAMS(DBT(variant_id)), &r, ei);
    if (err)
        return err;
    *stock = db_nrows(r) ? db_int(r, 0, 0) : -1;
    db_res_free(r);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

json_t *catalog_variant_to_json(const struct variant *v)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:b}", "id", v->id, "service_id",
                     v->service_id, "name", v->name, "price", money_to_json(v->price),
                     "currency", v->currency, "estimated_minutes",
                     (json_int_t)v->estimated_minutes, "stock", (json_int_t)v->stock,
                     "available", v->stock > 0);
}

json_t *catalog_service_to_json(const struct service *s)
{
    json_t *vars = json_array();

    for (int i = 0; i < s->nvariants; i++)
        json_array_append_new(vars, catalog_variant_to_json(&s->variants[i]));
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:o, s:o, s:o}", "id", s->id, "vendor_id",
                     s->vendor_id, "vendor_name", s->vendor_name, "name", s->name,
                     "description", s->description, "category", s->category, "variants", vars,
                     "created_at", json_time(s->created_at), "updated_at",
                     json_time(s->updated_at));
}

int catalog_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    return 0;
}
