/* listings_http.c - /api/listings/... handlers (API.md § "Listings,
 * messaging and moderation").
 *
 * Shape of each handler: parse (jv_* and the query parsers below) →
 * authorize (auth/policy.h; visibility needs the listing, so it is read
 * first) → domain (listings.h) → respond. No SQL here. Nothing is cached:
 * every read goes to the database (routes are Cache-Control: no-store), so a
 * status change shows on the next read of every client on every node.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "http/http.h"
#include "listings/listings.h"
#include "vendors/vendors.h"

static const char *const STATUSES[] = {"draft", "active", "reserved", "sold", "archived", NULL};
static const char *const CREATE_STATUSES[] = {"draft", "active", NULL};

/* ---- the body ----------------------------------------------------------------------- */

/* A number field in [min, max]; *set = 1 when a number, 0 when missing or null. */
static double coord(struct jv *v, const char *key, double lim, int *set, int *present)
{
    const json_t *x = json_object_get(v->obj, key);

    *set = 0;
    *present = x != NULL;
    if (!x || json_is_null(x))
        return 0;
    if (!json_is_number(x) || fabs(json_number_value(x)) > lim) {
        jv_error(v, key, lim > 90 ? "Expected a number from -180 to 180."
                                  : "Expected a number from -90 to 90.");
        return 0;
    }
    *set = 1;
    return json_number_value(x);
}

static void coords_parse(struct jv *v, struct listing_in *in)
{
    int lat_set, lon_set, lat_has, lon_has;

    in->lat = coord(v, "lat", 90, &lat_set, &lat_has);
    in->lon = coord(v, "lon", 180, &lon_set, &lon_has);
    if (v->bad)
        return;
    if (lat_set != lon_set || lat_has != lon_has) {
        jv_error(v, lat_set || lat_has ? "lon" : "lat", "lat and lon are both set or both null.");
        return;
    }
    in->coords = lat_set ? 1 : lat_has ? 2 : 0;
}

static void attrs_parse(struct http_req *req, struct jv *v, struct listing_in *in)
{
    const json_t *x = json_object_get(v->obj, "attributes");
    struct souk_errinfo tmp = {0};

    if (!x)
        return;
    if (listings_attributes_check(x, req->arena, &in->attributes, &tmp))
        jv_error(v, "attributes", tmp.detail);
    souk_errinfo_cleanup(&tmp);
}

static int listing_parse(struct http_req *req, int create, struct listing_in *in,
                         struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err, req_flag = create ? JV_REQUIRED : 0;

    memset(in, 0, sizeof *in);
    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    if (!json_is_object(body))
        return jv_done(&v);
    in->title = jv_str(&v, "title", req_flag, 1, LISTING_TITLE_MAX, NULL);
    in->description = jv_str(&v, "description", 0, 0, LISTING_TEXT_MAX, NULL);
    in->category = jv_str(&v, "category", 0, 0, LISTING_NAME_MAX, NULL);
    in->city = jv_str(&v, "city", 0, 0, LISTING_NAME_MAX, NULL);
    in->price = jv_money(&v, "price", req_flag, 0, MONEY_MAX, -1);
    in->currency = jv_str(&v, "currency", 0, 3, 3, NULL);
    if (in->currency && !currency_valid(in->currency))
        jv_error(&v, "currency", "Expected a lower-case ISO 4217 code such as \"usd\".");
    in->status = jv_enum(&v, "status", 0, create ? CREATE_STATUSES : STATUSES, NULL);
    attrs_parse(req, &v, in);
    coords_parse(&v, in);
    return jv_done(&v);
}

/* ---- who sees and owns what -------------------------------------------------------- */

static int my_profile(struct http_req *req, struct vendor_profile *p, struct souk_errinfo *ei)
{
    int err = policy_vendor(req, ei);

    if (err)
        return err;
    err = vendors_get_by_user(req->db, req->user->id, req->arena, p, ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return souk_fail(ei, SOUK_FORBIDDEN, "Create your vendor profile first.");
    }
    return err;
}

/* Reads the listing from db (the primary before a write, http_read_db for a plain read);
 * one the caller may not see is SOUK_NOT_FOUND. */
static int listing_seen(struct http_req *req, struct db *db, struct listing *l,
                        struct souk_errinfo *ei)
{
    int err;

    if ((err = policy_anyone(req, ei)) ||
        (err = listings_get(db, http_param(req, 0), req->arena, l, ei)))
        return err;
    if (!listings_is_public(l) && !policy_staff_or_owner(req, l->owner_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such listing.");
    return 0;
}

/* ---- JSON with the vendor ------------------------------------------------------------ */

struct vendor_cache {
    char id[37];
    json_t *json;
};

static int vendor_json(struct http_req *req, const char *vendor_id, json_t **out,
                       struct souk_errinfo *ei)
{
    struct vendor_profile p;
    int err = vendors_get(req->db, vendor_id, req->arena, &p, ei);

    if (err)
        return err;
    *out = json_pack("{s:s, s:s, s:b}", "id", p.id, "business_name", p.business_name,
                     "is_verified", p.is_verified);
    return 0;
}

/* The listing's JSON with its vendor (cache: the page's vendors so far). */
static int listing_json(struct http_req *req, const struct listing *l, struct vendor_cache *cache,
                        int *ncache, json_t **out, struct souk_errinfo *ei)
{
    json_t *v = NULL;
    int err;

    for (int i = 0; cache && i < *ncache && !v; i++)
        if (strcmp(cache[i].id, l->vendor_id) == 0)
            v = json_incref(cache[i].json);
    if (!v) {
        if ((err = vendor_json(req, l->vendor_id, &v, ei)))
            return err;
        if (cache) {
            snprintf(cache[*ncache].id, sizeof cache[*ncache].id, "%s", l->vendor_id);
            cache[(*ncache)++].json = http_keep(req, json_incref(v));
        }
    }
    *out = listings_to_json(l);
    json_object_set_new(*out, "vendor", v);
    return 0;
}

static int respond_one(struct http_req *req, int status, const struct listing *l)
{
    struct souk_errinfo ei = {0};
    json_t *j;
    int err = listing_json(req, l, NULL, NULL, &j, &ei);

    return err ? http_problem(req, err, &ei) : http_json(req, status, j);
}

/* ---- the list's query ------------------------------------------------------------------ */

/* A finite number filling the whole string. */
static int parse_double(const char *s, double *out)
{
    char *end;

    if (!s || !*s)
        return -1;
    *out = strtod(s, &end);
    return *end || !isfinite(*out) ? -1 : 0;
}

static int bad_param(struct souk_errinfo *ei, const char *field, const char *msg)
{
    souk_errinfo_field(ei, field, msg);
    return souk_fail(ei, SOUK_INVALID, "%s: %s", field, msg);
}

static int near_parse(struct http_req *req, struct listing_filter *f, struct souk_errinfo *ei)
{
    const char *near = http_query(req, "near"), *comma;
    char lat[64];

    if (!near)
        return 0;
    comma = strchr(near, ',');
    if (!comma || (size_t)(comma - near) >= sizeof lat)
        return bad_param(ei, "near", "Expected near=<lat>,<lon>.");
    memcpy(lat, near, (size_t)(comma - near));
    lat[comma - near] = 0;
    if (parse_double(lat, &f->lat) || parse_double(comma + 1, &f->lon) || fabs(f->lat) > 90 ||
        fabs(f->lon) > 180)
        return bad_param(ei, "near", "Expected near=<lat>,<lon> within -90..90, -180..180.");
    if (parse_double(http_query(req, "radius_km"), &f->radius_km) || f->radius_km <= 0 ||
        f->radius_km > LISTING_RADIUS_MAX)
        return bad_param(ei, "radius_km", "near needs radius_km, more than 0 and at most 20000.");
    f->near = 1;
    return 0;
}

static int price_parse(struct http_req *req, struct listing_filter *f, struct souk_errinfo *ei)
{
    const char *min = http_query(req, "price_min"), *max = http_query(req, "price_max");
    const char *cur = http_query(req, "currency");

    if (min && money_parse(min, 0, &f->price_min))
        return bad_param(ei, "price_min", "Expected an amount such as \"10.00\".");
    if (max && money_parse(max, 0, &f->price_max))
        return bad_param(ei, "price_max", "Expected an amount such as \"10.00\".");
    if (cur && !currency_valid(cur))
        return bad_param(ei, "currency", "Expected a lower-case ISO 4217 code.");
    f->has_price_min = min != NULL;
    f->has_price_max = max != NULL;
    f->currency = cur ? cur : "usd";
    return 0;
}

/* One attr.<key>[__gte|__lte]=<value> parameter. */
static int attr_parse(struct http_req *req, const struct http_kv *kv, struct listing_attr_filter *a,
                      struct souk_errinfo *ei)
{
    const char *name = kv->key + 5;
    size_t n = strlen(name);
    json_t *num;

    a->op = LISTING_ATTR_EQ;
    if (n > 5 && (strcmp(name + n - 5, "__gte") == 0 || strcmp(name + n - 5, "__lte") == 0)) {
        a->op = name[n - 3] == 'g' ? LISTING_ATTR_GTE : LISTING_ATTR_LTE;
        n -= 5;
    }
    if (n > LISTING_ATTR_KEY_MAX)
        return bad_param(ei, kv->key, "Keys are 1 to 64 characters of A-Z, a-z, 0-9 and _.");
    memcpy(a->key, name, n);
    a->key[n] = 0;
    if (!listings_key_valid(a->key))
        return bad_param(ei, kv->key, "Keys are 1 to 64 characters of A-Z, a-z, 0-9 and _.");
    a->text = kv->value;
    a->boolean = strcmp(kv->value, "true") == 0 ? 1 : strcmp(kv->value, "false") == 0 ? 0 : -1;
    num = json_loads(kv->value, JSON_DECODE_ANY, NULL);
    if (num && json_is_number(num)) {
        char *txt = json_dumps(num, JSON_COMPACT | JSON_ENCODE_ANY);
        a->number = arena_strdup(req->arena, txt);
        free(txt);
    }
    json_decref(num);
    if (a->op != LISTING_ATTR_EQ && !a->number)
        return bad_param(ei, kv->key, "Expected a number.");
    return 0;
}

static int attrs_filter_parse(struct http_req *req, struct listing_filter *f,
                              struct souk_errinfo *ei)
{
    int err;

    for (int i = 0; i < req->nquery; i++) {
        if (strncmp(req->query[i].key, "attr.", 5) != 0)
            continue;
        if (f->nattrs == LISTING_ATTR_FILTERS)
            return bad_param(ei, req->query[i].key, "At most 16 attr. filters.");
        if ((err = attr_parse(req, &req->query[i], &f->attrs[f->nattrs++], ei)))
            return err;
    }
    return 0;
}

/* ordering=created_at,-price,distance_km (each once; distance_km needs near). */
static int ordering_parse(struct http_req *req, struct listing_filter *f, struct souk_errinfo *ei)
{
    static const char *const names[] = {"created_at", "price", "distance_km"};
    const char *o = http_query(req, "ordering");
    char *copy, *save = NULL;

    f->norder = 1;
    f->order[0] = f->near ? (struct listing_order){LISTING_ORD_DISTANCE, 0}
                          : (struct listing_order){LISTING_ORD_CREATED, 1};
    if (!o)
        return 0;
    f->norder = 0;
    copy = arena_strdup(req->arena, o);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int desc = *t == '-', k = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(t + desc, names[i]) == 0)
                k = i;
        for (int i = 0; i < f->norder && k >= 0; i++)
            if ((int)f->order[i].key == k)
                k = -1;
        if (k < 0 || f->norder == LISTING_ORDER_MAX || (k == LISTING_ORD_DISTANCE && !f->near))
            return bad_param(ei, "ordering",
                             "A comma list of created_at, price, distance_km (with near), "
                             "each once, optionally prefixed with -.");
        f->order[f->norder++] = (struct listing_order){(enum listing_order_key)k, desc};
    }
    return f->norder ? 0 : bad_param(ei, "ordering", "Name at least one field.");
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static int filter_parse(struct http_req *req, struct listing_filter *f, struct souk_errinfo *ei)
{
    int err;

    f->category = nonempty(http_query(req, "category"));
    f->city = nonempty(http_query(req, "city"));
    f->q = nonempty(http_query(req, "q"));
    if ((err = price_parse(req, f, ei)) || (err = attrs_filter_parse(req, f, ei)) ||
        (err = near_parse(req, f, ei)))
        return err;
    return ordering_parse(req, f, ei);
}

/* ---- the cursor: {"o": ordering, "k": [keys], "id": id, "d": "n"|"p"} ------------------ */

static const char *ordering_sig(struct http_req *req, const struct listing_filter *f)
{
    char *s = arena_calloc(req->arena, 1, 16);

    for (int i = 0; i < f->norder; i++)
        s[i] = (char)((f->order[i].desc ? 'A' : 'a') + (int)f->order[i].key);
    return s;
}

static int cursor_parse(struct http_req *req, const struct page *pg,
                        const struct listing_filter *f, struct listing_cursor *c,
                        struct souk_errinfo *ei)
{
    const json_t *k, *id, *o;

    memset(c, 0, sizeof *c);
    c->limit = pg->size + 1;
    c->backwards = pg->backwards;
    if (!pg->cursor)
        return 0;
    k = json_object_get(pg->cursor, "k");
    id = json_object_get(pg->cursor, "id");
    o = json_object_get(pg->cursor, "o");
    if (!json_is_array(k) || (int)json_array_size(k) != f->norder || !json_is_string(o) ||
        strcmp(json_string_value(o), ordering_sig(req, f)) != 0 || !json_is_string(id) ||
        uuid_normalize(json_string_value(id), c->id))
        return bad_param(ei, "cursor", "invalid cursor");
    for (int i = 0; i < f->norder; i++) {
        if (!json_is_integer(json_array_get(k, (size_t)i)))
            return bad_param(ei, "cursor", "invalid cursor");
        c->k[i] = json_integer_value(json_array_get(k, (size_t)i));
    }
    c->has = 1;
    return 0;
}

static char *cursor_for(struct http_req *req, const struct listing_filter *f,
                        const struct listing *l, const char *dir)
{
    int64_t k[LISTING_ORDER_MAX];
    json_t *arr = json_array(), *c;
    char *out;

    listings_sort_keys(f, l, k);
    for (int i = 0; i < f->norder; i++)
        json_array_append_new(arr, json_integer(k[i]));
    c = json_pack("{s:s, s:o, s:s, s:s}", "o", ordering_sig(req, f), "k", arr, "id", l->id, "d",
                  dir);
    out = page_cursor_encode(req, c);
    json_decref(c);
    return out;
}

/* ---- lists -------------------------------------------------------------------------- */

static int list_respond(struct http_req *req, const struct listing_filter *f,
                        const struct page *pg, struct souk_errinfo *ei)
{
    struct listing_cursor c;
    struct listing *rows;
    struct vendor_cache *cache;
    int err, n, shown, ncache = 0;
    json_t *results = json_array(), *j;
    char *next = NULL, *prev = NULL;

    http_keep(req, results);
    if ((err = cursor_parse(req, pg, f, &c, ei)) ||
        (err = listings_list(http_read_db(req), f, &c, req->arena, &rows, &n, ei)))
        return http_problem(req, err, ei);
    shown = n > pg->size ? pg->size : n;
    cache = arena_calloc(req->arena, (size_t)shown + 1, sizeof *cache);
    for (int i = 0; i < shown; i++) {
        int at = c.backwards ? shown - 1 - i : i;
        if ((err = listing_json(req, &rows[at], cache, &ncache, &j, ei)))
            return http_problem(req, err, ei);
        json_array_append_new(results, j);
    }
    if (shown > 0) {
        const struct listing *first = &rows[c.backwards ? shown - 1 : 0];
        const struct listing *last = &rows[c.backwards ? 0 : shown - 1];
        if (c.backwards || n > pg->size)
            next = cursor_for(req, f, last, "n");
        if (c.backwards ? n > pg->size : pg->cursor != NULL)
            prev = cursor_for(req, f, first, "p");
    }
    return http_json(req, 200, page_envelope(req, json_incref(results), next, prev));
}

/* GET /api/listings/ */
static int listings_get_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct listing_filter f = {0};
    char vendor[UUID_STR_LEN];
    struct page pg;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = filter_parse(req, &f, &ei)))
        return http_problem(req, err, &ei);
    f.vendor_id = nonempty(http_query(req, "vendor"));
    if (f.vendor_id && uuid_normalize(f.vendor_id, vendor)) /* no such vendor */
        return http_json(req, 200, page_envelope(req, json_array(), NULL, NULL));
    if (f.vendor_id)
        f.vendor_id = vendor;
    return list_respond(req, &f, &pg, &ei);
}

/* GET /api/listings/my/ */
static int listings_my(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct listing_filter f = {0};
    struct page pg;
    int err;

    if ((err = policy_vendor(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = filter_parse(req, &f, &ei)))
        return http_problem(req, err, &ei);
    f.owner_id = req->user->id;
    f.status = nonempty(http_query(req, "status"));
    for (int i = 0; f.status && STATUSES[i]; i++)
        if (strcmp(STATUSES[i], f.status) == 0)
            return list_respond(req, &f, &pg, &ei);
    if (f.status)
        return http_problem(req, bad_param(&ei, "status", "One of draft, active, reserved, "
                                                         "sold, archived."), &ei);
    return list_respond(req, &f, &pg, &ei);
}

/* ---- one listing -------------------------------------------------------------------- */

/* POST /api/listings/ */
static int listings_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct listing_in in;
    struct listing l;
    int err;

    if ((err = my_profile(req, &p, &ei)) || (err = listing_parse(req, 1, &in, &ei)) ||
        (err = listings_create(req->db, p.id, p.user_id, &in, req->arena, &l, &ei)))
        return http_problem(req, err, &ei);
    return respond_one(req, 201, &l);
}

/* GET /api/listings/{id}/ */
static int listing_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct listing l;
    int err;

    if ((err = listing_seen(req, http_read_db(req), &l, &ei)))
        return http_problem(req, err, &ei);
    return respond_one(req, 200, &l);
}

/* PATCH /api/listings/{id}/ */
static int listing_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct listing_in in;
    struct listing l;
    int err;

    if ((err = listing_seen(req, req->db, &l, &ei)) ||
        (err = policy_owner_or_admin(req, l.owner_id, &ei)) ||
        (err = listing_parse(req, 0, &in, &ei)) ||
        (err = listings_update(req->db, l.id, &in, req->arena, &l, &ei)))
        return http_problem(req, err, &ei);
    return respond_one(req, 200, &l);
}

/* DELETE /api/listings/{id}/ */
static int listing_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct listing l;
    int err;

    if ((err = listing_seen(req, req->db, &l, &ei)) ||
        (err = policy_owner_or_admin(req, l.owner_id, &ei)) ||
        (err = listings_delete(req->db, l.id, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

void listings_http_register(struct router *r)
{
    http_route(r, "GET", "/api/listings/", listings_get_list, 0,
               "active listings: filters, attributes, distance");
    http_route(r, "POST", "/api/listings/", listings_post, ROUTE_AUTH, "create a listing");
    http_route(r, "GET", "/api/listings/my/", listings_my, ROUTE_AUTH,
               "the caller's listings, every status");
    http_route(r, "GET", "/api/listings/{id}/", listing_get, 0, "a listing");
    http_route(r, "PATCH", "/api/listings/{id}/", listing_patch, ROUTE_AUTH,
               "update a listing or move its status");
    http_route(r, "DELETE", "/api/listings/{id}/", listing_delete, ROUTE_AUTH,
               "delete a draft listing");
}
