/* listings.c - listings: the attribute limits, the status machine, create,
 * read, update, delete and hiding (see listings.h). The search list is in
 * search.c. No HTTP here.
 *
 * A status move is checked against the row read under a lock (FOR UPDATE on
 * PostgreSQL; SQLite transactions are IMMEDIATE) and written by a statement
 * that still names the old status, so two concurrent moves cannot both
 * succeed from the same state.
 *
 * Thread safety: no shared state but the status hook, set once at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "listings/internal.h"
#include "listings/listings.h"
#include "moderation/moderation.h"

static listings_status_fn status_hook;

void listings_set_status_hook(listings_status_fn fn)
{
    status_hook = fn;
}

/* ---- attributes ------------------------------------------------------------------ */

int listings_key_valid(const char *key)
{
    size_t n = 0;

    for (const char *s = key; *s; s++, n++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return n >= 1 && n <= LISTING_ATTR_KEY_MAX;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* NULL when v (at container depth `depth`) keeps the limits, else why not. */
static const char *attr_walk(const json_t *v, int depth)
{
    const char *key, *why;
    const json_t *x;
    size_t i;

    if (json_is_string(v))
        return utf8_chars(json_string_value(v)) > LISTING_ATTR_STR_MAX
                   ? "A string value is longer than 1000 characters."
                   : NULL;
    if (!json_is_object(v) && !json_is_array(v))
        return NULL;
    if (depth > LISTING_ATTR_DEPTH)
        return "Attributes are nested more than 3 levels deep.";
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
            if ((why = attr_walk(x, depth + 1)))
                return why;
        return NULL;
    }
    if (json_object_size(v) > LISTING_ATTR_KEYS)
        return "An object has more than 50 keys.";
    json_object_foreach((json_t *)v, key, x) {
        if (!listings_key_valid(key))
            return "Keys are 1 to 64 characters of A-Z, a-z, 0-9 and _.";
        if ((why = attr_walk(x, depth + 1)))
            return why;
    }
    return NULL;
}

int listings_attributes_check(const json_t *attrs, struct arena *a, const char **compact,
                              struct souk_errinfo *ei)
{
    const char *why = json_is_object(attrs) ? attr_walk(attrs, 1) : "Expected a JSON object.";
    char *txt;

    if (!why) {
        txt = json_dumps(attrs, JSON_COMPACT);
        if (!txt)
            why = "Attributes cannot be serialised.";
        else if (strlen(txt) > LISTING_ATTR_BYTES)
            why = "Attributes are larger than 16 KiB as compact JSON.";
        else
            *compact = arena_strdup(a, txt);
        free(txt);
    }
    if (why) {
        souk_errinfo_field(ei, "attributes", why);
        return souk_fail(ei, SOUK_INVALID, "%s", why);
    }
    return 0;
}

/* ---- the status machine ------------------------------------------------------------ */

int listings_move_allowed(const char *from, const char *to)
{
    static const char *const moves[][2] = {
        {"draft", "active"},  {"active", "reserved"}, {"reserved", "active"},
        {"active", "sold"},   {"reserved", "sold"},   {"draft", "archived"},
        {"active", "archived"}, {"reserved", "archived"}};

    if (strcmp(from, "sold") == 0 || strcmp(from, "archived") == 0)
        return 0;
    if (strcmp(from, to) == 0)
        return 1;
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
        if (strcmp(moves[i][0], from) == 0 && strcmp(moves[i][1], to) == 0)
            return 1;
    return 0;
}

int listings_is_public(const struct listing *l)
{
    return !l->is_hidden && (strcmp(l->status, "active") == 0 ||
                             strcmp(l->status, "reserved") == 0 ||
                             strcmp(l->status, "sold") == 0);
}

/* ---- rows -------------------------------------------------------------------------- */

void listing_from_row(const struct db_res *r, int i, struct arena *a, struct listing *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->id, sizeof l->id, "%s", db_get(r, i, 0));
    snprintf(l->vendor_id, sizeof l->vendor_id, "%s", db_get(r, i, 1));
    snprintf(l->owner_id, sizeof l->owner_id, "%s", db_get(r, i, 2));
    l->title = arena_strdup(a, db_get(r, i, 3));
    l->description = arena_strdup(a, db_get(r, i, 4));
    l->category = arena_strdup(a, db_get(r, i, 5));
    l->attributes = arena_strdup(a, db_get(r, i, 6));
    l->city = arena_strdup(a, db_get(r, i, 7));
    l->price = db_int(r, i, 8);
    snprintf(l->currency, sizeof l->currency, "%s", db_get(r, i, 9));
    l->has_coords = !db_isnull(r, i, 10) && !db_isnull(r, i, 11);
    if (l->has_coords) {
        l->lat = strtod(db_get(r, i, 10), NULL);
        l->lon = strtod(db_get(r, i, 11), NULL);
    }
    snprintf(l->status, sizeof l->status, "%s", db_get(r, i, 12));
    l->is_hidden = !db_isnull(r, i, 13);
    l->created_at = db_int(r, i, 14);
    l->updated_at = db_int(r, i, 15);
}

/* "%.17g" of a coordinate for a CAST(... AS DOUBLE PRECISION) parameter. */
const char *listing_double_text(struct arena *a, double v)
{
    return arena_sprintf(a, "%.17g", v);
}

static int load(struct db_conn *c, const char *id, int lock, struct arena *a,
                struct listing *out, struct souk_errinfo *ei)
{
    struct db_res *r;
    int pg = db_conn_dialect(c) == DB_PGSQL;
    int err = db_query(c,
                       lock && pg ? "SELECT " LISTING_COLS " FROM listings WHERE id = $1 FOR UPDATE"
                                  : "SELECT " LISTING_COLS " FROM listings WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such listing.");
    }
    listing_from_row(r, 0, a, out);
    db_res_free(r);
    return 0;
}

int listings_get_tx(struct db_conn *tx, const char *id, struct arena *a, struct listing *out,
                    struct souk_errinfo *ei)
{
    return load(tx, id, 0, a, out, ei);
}

struct one_args {
    const char *id;
    const char *vendor_id;
    const char *owner_id;
    const struct listing_in *in;
    struct arena *a;
    struct listing *out;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *o = arg;
    return load(c, o->id, 0, o->a, o->out, ei);
}

int listings_get(struct db *db, const char *id, struct arena *a, struct listing *out,
                 struct souk_errinfo *ei)
{
    struct one_args o = {id, NULL, NULL, NULL, a, out};
    return db_run(db, get_fn, &o, ei);
}

/* ---- create ------------------------------------------------------------------------ */

static int create_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    static const char *const sql[2] = {
        "INSERT INTO listings (id, vendor_id, owner_id, title, description, category, price, "
        "currency, attributes, city, lat, lon, status, created_at, updated_at) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, $9, $10, CAST($11 AS DOUBLE PRECISION), "
        "CAST($12 AS DOUBLE PRECISION), $13, $14, $14)",
        "INSERT INTO listings (id, vendor_id, owner_id, title, description, category, price, "
        "currency, attributes, city, lat, lon, status, created_at, updated_at) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, CAST($9 AS jsonb), $10, CAST($11 AS DOUBLE PRECISION), "
        "CAST($12 AS DOUBLE PRECISION), $13, $14, $14)"};
    struct one_args *o = arg;
    const struct listing_in *in = o->in;
    char id[UUID_STR_LEN];
    int set = in->coords == 1;
    int err;

    uuid_v7(id);
    err = db_exec(c, sql[db_conn_dialect(c) == DB_PGSQL],
                  DB_PARAMS(DBT(id), DBT(o->vendor_id), DBT(o->owner_id), DBT(in->title),
                            DBT(in->description ? in->description : ""),
                            DBT(in->category ? in->category : ""), DBI(in->price),
                            DBT(in->currency ? in->currency : "usd"),
                            DBT(in->attributes ? in->attributes : "{}"),
                            DBT(in->city ? in->city : ""),
                            DBT(set ? listing_double_text(o->a, in->lat) : NULL),
                            DBT(set ? listing_double_text(o->a, in->lon) : NULL),
                            DBT(in->status ? in->status : "draft"), DBI(clock_now_us())),
                  NULL, ei);
    return err ? err : load(c, id, 0, o->a, o->out, ei);
}

int listings_create(struct db *db, const char *vendor_id, const char *owner_id,
                    const struct listing_in *in, struct arena *a, struct listing *out,
                    struct souk_errinfo *ei)
{
    struct one_args o = {NULL, vendor_id, owner_id, in, a, out};
    return db_tx_run(db, create_tx, &o, ei);
}

/* ---- update ------------------------------------------------------------------------ */

static int write_update(struct db_conn *c, struct one_args *o, const char *old,
                        struct souk_errinfo *ei)
{
    static const char *const sql[2] = {
        "UPDATE listings SET title = COALESCE($2, title), description = COALESCE($3, "
        "description), category = COALESCE($4, category), city = COALESCE($5, city), currency "
        "= COALESCE($6, currency), price = CASE WHEN CAST($7 AS BIGINT) < 0 THEN price ELSE "
        "CAST($7 AS BIGINT) END, attributes = COALESCE($8, attributes), lat = CASE WHEN "
        "CAST($9 AS INTEGER) = 0 THEN lat ELSE CAST($10 AS DOUBLE PRECISION) END, lon = CASE "
        "WHEN CAST($9 AS INTEGER) = 0 THEN lon ELSE CAST($11 AS DOUBLE PRECISION) END, status "
        "= COALESCE($12, status), updated_at = $13 WHERE id = $1 AND status = $14",
        "UPDATE listings SET title = COALESCE($2, title), description = COALESCE($3, "
        "description), category = COALESCE($4, category), city = COALESCE($5, city), currency "
        "= COALESCE($6, currency), price = CASE WHEN CAST($7 AS BIGINT) < 0 THEN price ELSE "
        "CAST($7 AS BIGINT) END, attributes = COALESCE(CAST($8 AS jsonb), attributes), lat = "
        "CASE WHEN CAST($9 AS INTEGER) = 0 THEN lat ELSE CAST($10 AS DOUBLE PRECISION) END, "
        "lon = CASE WHEN CAST($9 AS INTEGER) = 0 THEN lon ELSE CAST($11 AS DOUBLE PRECISION) "
        "END, status = COALESCE($12, status), updated_at = $13 WHERE id = $1 AND status = $14"};
    const struct listing_in *in = o->in;
    int set = in->coords == 1;
    int64_t n = 0;
    int err = db_exec(c, sql[db_conn_dialect(c) == DB_PGSQL],
                      DB_PARAMS(DBT(o->id), DBT(in->title), DBT(in->description),
                                DBT(in->category), DBT(in->city), DBT(in->currency),
                                DBI(in->price), DBT(in->attributes), DBI(in->coords),
                                DBT(set ? listing_double_text(o->a, in->lat) : NULL),
                                DBT(set ? listing_double_text(o->a, in->lon) : NULL),
                                DBT(in->status), DBI(clock_now_us()), DBT(old)),
                      &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_RETRY, "The listing changed meanwhile.");
    return err;
}

static int update_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *o = arg;
    struct listing cur;
    char old[10];
    int err = load(c, o->id, 1, o->a, &cur, ei);

    if (err)
        return err;
    snprintf(old, sizeof old, "%s", cur.status);
    if (!listings_move_allowed(old, o->in->status ? o->in->status : old))
        return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              strcmp(old, "sold") == 0 || strcmp(old, "archived") == 0
                                  ? "A sold or archived listing cannot change."
                                  : "This status move is not allowed.");
    if ((err = write_update(c, o, old, ei)) || (err = load(c, o->id, 0, o->a, o->out, ei)))
        return err;
    if (status_hook && strcmp(old, o->out->status) != 0)
        return status_hook(c, o->out, old, ei);
    return 0;
}

int listings_update(struct db *db, const char *id, const struct listing_in *in,
                    struct arena *a, struct listing *out, struct souk_errinfo *ei)
{
    struct one_args o = {id, NULL, NULL, in, a, out};
    return db_tx_run(db, update_tx, &o, ei);
}

/* ---- delete and hide -------------------------------------------------------------- */

static int delete_tx(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const char *id = arg;
    int64_t n = 0;
    int err = db_exec(c, "DELETE FROM listings WHERE id = $1 AND status = 'draft'",
                      DB_PARAMS(DBT(id)), &n, ei);
    struct db_res *r;

    if (err || n == 1)
        return err;
    if ((err = db_query(c, "SELECT status FROM listings WHERE id = $1", DB_PARAMS(DBT(id)), &r,
                        ei)))
        return err;
    n = db_nrows(r);
    db_res_free(r);
    if (n == 0)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such listing.");
    return souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                          "Only a draft can be deleted; archive it instead.");
}

int listings_delete(struct db *db, const char *id, struct souk_errinfo *ei)
{
    return db_tx_run(db, delete_tx, (void *)id, ei);
}

int listings_set_hidden(struct db_conn *tx, const char *id, int hidden, struct souk_errinfo *ei)
{
    int64_t n = 0;
    int err = db_exec(tx,
                      "UPDATE listings SET hidden_at = CASE WHEN CAST($2 AS INTEGER) = 1 THEN "
                      "COALESCE(hidden_at, CAST($3 AS BIGINT)) ELSE NULL END WHERE id = $1",
                      DB_PARAMS(DBT(id), DBI(hidden ? 1 : 0), DBI(clock_now_us())), &n, ei);
    if (!err && n == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such listing.");
    return err;
}

/* The moderation kind "listing": its owner, and whether the viewer may see
 * it (staff and the owner always; others while public). */
static int listing_target(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                          char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c, "SELECT owner_id, status, hidden_at FROM listings WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1) {
        const char *status = db_get(r, 0, 1);
        int own = viewer_id && !strcmp(viewer_id, db_get(r, 0, 0));
        *hidden = !db_isnull(r, 0, 2);
        if (staff || own || (!*hidden && strcmp(status, "draft") && strcmp(status, "archived"))) {
            snprintf(author, 37, "%s", db_get(r, 0, 0));
            db_res_free(r);
            return SOUK_OK;
        }
    }
    db_res_free(r);
    return souk_fail(ei, SOUK_NOT_FOUND, "No such listing.");
}

static const struct moderation_kind listing_kind = {"listing", listing_target,
                                                    listings_set_hidden};

/* ---- JSON -------------------------------------------------------------------------- */

json_t *listings_to_json(const struct listing *l)
{
    json_t *attrs = json_loads(l->attributes ? l->attributes : "{}", 0, NULL);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:b, s:o, s:o}",
                          "id", l->id, "vendor_id", l->vendor_id, "title", l->title,
                          "description", l->description, "category", l->category, "price",
                          money_to_json(l->price), "currency", l->currency, "attributes",
                          attrs ? attrs : json_object(), "city", l->city, "status", l->status,
                          "is_hidden", l->is_hidden, "created_at", json_time(l->created_at),
                          "updated_at", json_time(l->updated_at));

    json_object_set_new(o, "lat", l->has_coords ? json_real(l->lat) : json_null());
    json_object_set_new(o, "lon", l->has_coords ? json_real(l->lon) : json_null());
    if (l->has_distance)
        json_object_set_new(o, "distance_km", json_real((double)l->distance_ck / 100.0));
    return o;
}

int listings_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    (void)ei;
    moderation_register_kind(&listing_kind);
    listings_userdata_register();
    return 0;
}
