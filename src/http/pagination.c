/* pagination.c - cursor pagination for every list (API.md: "Every list is
 * cursor-paginated").
 *
 * A list answers {"next": url|null, "previous": url|null, "results": [...]}
 * and reads two query parameters: `page_size` (default 20, above the max of
 * 100 capped, below 1 or not an integer a 400) and `cursor`, an opaque token
 * that is base64url (no padding) of a compact JSON object the list chose.
 * Decoding is strict: bad base64, bytes that are not a JSON object or a
 * token over PAGE_CURSOR_MAX characters are a 400 validation_error naming
 * `cursor`; nothing else about the object is trusted, so the list checks
 * the types of the fields it reads (a tampered cursor is a 400, never a 500).
 *
 * How a list handler does keyset pagination with this:
 *
 *   The cursor holds the sort key and the id of the row at the edge of the
 *   page just shown, and a direction: {"k": <sort key>, "id": "<uuid>",
 *   "d": "n"} for the page after it, "d": "p" for the page before it.
 *   page_parse() sets pg.backwards for "d":"p" (any other "d" is a 400).
 *
 *     struct page pg;
 *     if ((err = page_parse(req, &pg, &ei)))
 *         return http_problem(req, err, &ei);
 *
 *   Then, for a list ordered by (created_at DESC, id DESC), fetch
 *   pg.size + 1 rows; the extra row only says whether more rows exist:
 *
 *     first page:  ORDER BY created_at DESC, id DESC LIMIT size+1
 *     forward:     WHERE (created_at, id) < (:k, :id)
 *                  ORDER BY created_at DESC, id DESC LIMIT size+1
 *     backwards:   WHERE (created_at, id) > (:k, :id)
 *                  ORDER BY created_at ASC, id ASC LIMIT size+1
 *                  then reverse the rows into display order.
 *
 *   (Row values work in SQLite >= 3.15 and PostgreSQL; an index on
 *   (created_at, id) serves all three.) With more = (rows > size), drop
 *   the extra row (the last one fetched, before any reversal) and link:
 *
 *     next     = forward ? (more ? last shown row, "d":"n" : none)
 *                        : last shown row, "d":"n"   (we came from there)
 *     previous = forward ? (pg.cursor ? first shown row, "d":"p" : none)
 *                        : (more ? first shown row, "d":"p" : none)
 *
 *   and answer http_json(req, 200, page_envelope(req, results,
 *   page_cursor_encode(req, next), page_cursor_encode(req, prev))), where
 *   the cursor objects are built with json_pack and decref'd by the handler.
 *   Keyset pages stay stable while rows are inserted, and cost the same at
 *   any depth (no OFFSET).
 *
 * Thread safety: all state is in the request; safe from any worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/uuid.h"
#include "db/keyset.h"
#include "http/http.h"
#include "core/str.h"

#define PAGE_SIZE_DEFAULT 20
#define PAGE_SIZE_MAX 100
#define PAGE_CURSOR_MAX 512 /* characters of the encoded token */

static int size_default(void)
{
    return souk_cfg && souk_cfg->page_size_default > 0 ? souk_cfg->page_size_default
                                                       : PAGE_SIZE_DEFAULT;
}

static int size_max(void)
{
    return souk_cfg && souk_cfg->page_size_max > 0 ? souk_cfg->page_size_max : PAGE_SIZE_MAX;
}

/* page_size: digits only (no sign, no spaces). Values beyond the max,
 * including ones too large for a long, are capped. -1 when invalid. */
static int parse_size(const char *s)
{
    int max = size_max();
    long v;
    char *end;

    if (!s)
        return size_default();
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end)
        return -1;
    if (v < 1)
        return -1;
    if (errno == ERANGE || v > max)
        return max;
    return (int)v;
}

/* Decodes a cursor token into a JSON object, or NULL when it is not one. */
static json_t *cursor_decode(const char *tok)
{
    size_t len = strlen(tok);

    if (len > PAGE_CURSOR_MAX)
        return NULL;
    return json_object_from_b64url(tok, len);
}

/* "d" absent or "n": forward; "p": backwards; anything else: -1. */
static int cursor_direction(const json_t *cursor)
{
    const json_t *d = json_object_get(cursor, "d");
    const char *s;

    if (!d)
        return 0;
    s = json_string_value(d);
    if (s && strcmp(s, "n") == 0)
        return 0;
    if (s && strcmp(s, "p") == 0)
        return 1;
    return -1;
}

int page_parse(struct http_req *req, struct page *pg, struct souk_errinfo *ei)
{
    const char *tok = http_query(req, "cursor");
    int bad = 0;

    memset(pg, 0, sizeof *pg);
    pg->size = parse_size(http_query(req, "page_size"));
    if (pg->size < 0) {
        souk_errinfo_field(ei, "page_size", "must be a positive integer");
        bad = 1;
    }
    if (tok) {
        json_t *c = cursor_decode(tok);
        int dir = c ? cursor_direction(c) : -1;
        if (dir < 0) {
            json_decref(c);
            souk_errinfo_field(ei, "cursor", "invalid cursor");
            bad = 1;
        } else {
            pg->cursor = http_keep(req, c);
            pg->backwards = dir;
        }
    }
    if (bad)
        return souk_fail(ei, SOUK_INVALID, "invalid pagination parameters");
    return SOUK_OK;
}

char *page_cursor_encode(struct http_req *req, const json_t *cursor)
{
    char *txt, *out;
    size_t n;

    if (!cursor)
        return NULL;
    txt = json_dumps(cursor, JSON_COMPACT | JSON_SORT_KEYS);
    if (!txt) {
        log_error("page_cursor_encode: cursor cannot be serialised");
        return NULL;
    }
    n = strlen(txt);
    out = arena_alloc(req->arena, B64URL_ENCODED_LEN(n) + 1);
    if (b64url_encode(out, txt, n) > PAGE_CURSOR_MAX)
        log_error("page_cursor_encode: cursor longer than %d characters will be refused",
                  PAGE_CURSOR_MAX);
    free(txt);
    return out;
}

/* ---- links ------------------------------------------------------------------ */

/* Appends s percent-encoded: unreserved characters (RFC 3986) stay, and so
 * do the characters in `keep`; everything else becomes %XX. */
static void buf_put_escaped(struct strbuf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c) || (keep && strchr(keep, *c))) {
            strbuf_put(b, (const char *)c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            strbuf_put(b, e, 3);
        }
    }
}

/* The request's own URL with `cursor` replaced by tok, as an arena string. */
static char *page_link(struct http_req *req, const char *tok)
{
    const char *base = http_base_url(req);
    size_t blen = base ? strlen(base) : 0;
    struct strbuf b = {0};
    char sep = '?', *out;

    while (blen && base[blen - 1] == '/')
        blen--;
    strbuf_put(&b, base ? base : "", blen);
    /* the path is decoded: re-encode it, keeping '/' and the sub-delims */
    buf_put_escaped(&b, req->path ? req->path : "/", "/!$&'()*+,;=:@");
    for (int i = 0; i < req->nquery; i++) {
        const char *key = req->query[i].key;
        if (!key || !*key || strcmp(key, "cursor") == 0) /* "%00=x" decodes to "" */
            continue;
        strbuf_put(&b, &sep, 1);
        buf_put_escaped(&b, key, NULL);
        strbuf_puts(&b, "=");
        buf_put_escaped(&b, req->query[i].value ? req->query[i].value : "", NULL);
        sep = '&';
    }
    if (tok) {
        strbuf_put(&b, &sep, 1);
        strbuf_puts(&b, "cursor=");
        buf_put_escaped(&b, tok, NULL);
    }
    out = arena_strndup(req->arena, b.p, b.len);
    free(b.p);
    return out;
}

json_t *page_envelope(struct http_req *req, json_t *results, const char *next_cursor,
                      const char *prev_cursor)
{
    json_t *env = json_object();

    json_object_set_new(env, "next",
                        next_cursor ? json_string(page_link(req, next_cursor)) : json_null());
    json_object_set_new(env, "previous",
                        prev_cursor ? json_string(page_link(req, prev_cursor)) : json_null());
    json_object_set_new(env, "results", results ? results : json_array());
    return env;
}

/* ---- keyset pages (db/keyset.h holds the SQL half) ---------------------- */

int keyset_from_page(const struct page *pg, int asc, struct keyset *ks,
                     struct souk_errinfo *ei)
{
    const json_t *k, *id;

    memset(ks, 0, sizeof *ks);
    ks->limit = pg->size + 1;
    ks->asc = asc;
    ks->backwards = pg->backwards;
    if (!pg->cursor)
        return SOUK_OK;
    k = json_object_get(pg->cursor, "k");
    id = json_object_get(pg->cursor, "id");
    if (!json_is_integer(k) || !json_is_string(id) ||
        uuid_normalize(json_string_value(id), ks->id)) {
        souk_errinfo_field(ei, "cursor", "invalid cursor");
        return souk_fail(ei, SOUK_INVALID, "invalid pagination parameters");
    }
    ks->k = json_integer_value(k);
    ks->has_cursor = 1;
    return SOUK_OK;
}

static json_t *keyset_cursor(int64_t k, const char *id, const char *dir)
{
    return json_pack("{s:I, s:s, s:s}", "k", (json_int_t)k, "id", id, "d", dir);
}

/* Links from the first and last shown rows (fetch-order indexes). */
json_t *keyset_envelope(struct http_req *req, const struct page *pg, const struct keyset *ks,
                        json_t *rows, const int64_t *keys, const char *const *ids)
{
    size_t n = json_array_size(rows);
    int more = n > (size_t)pg->size;
    json_t *next = NULL, *prev = NULL, *env;
    char *nc, *pc;

    if (more)
        json_array_remove(rows, --n);
    if (n && ks->backwards) {
        json_t *rev = json_array();
        for (size_t i = n; i-- > 0;)
            json_array_append(rev, json_array_get(rows, i));
        json_decref(rows);
        rows = rev;
        /* display order: first shown = fetch index n-1, last shown = 0 */
        next = keyset_cursor(keys[0], ids[0], "n");
        prev = more ? keyset_cursor(keys[n - 1], ids[n - 1], "p") : NULL;
    } else if (n) {
        next = more ? keyset_cursor(keys[n - 1], ids[n - 1], "n") : NULL;
        prev = pg->cursor ? keyset_cursor(keys[0], ids[0], "p") : NULL;
    }
    nc = page_cursor_encode(req, next);
    pc = page_cursor_encode(req, prev);
    json_decref(next);
    json_decref(prev);
    env = page_envelope(req, rows, nc, pc);
    return env;
}
