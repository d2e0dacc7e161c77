/* keyset.c - see keyset.h. */
#include <stdio.h>
#include <string.h>

#include "core/uuid.h"
#include "http/http.h"
#include "users/keyset.h"

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

/* Fetching towards larger keys? */
static int fetch_up(const struct keyset *ks)
{
    return ks->asc != ks->backwards;
}

const char *keyset_where(const struct keyset *ks, const char *kcol, const char *idcol, int pk,
                         char *buf, size_t len)
{
    if (!ks->has_cursor)
        return "";
    snprintf(buf, len, " AND (%s, %s) %s ($%d, $%d)", kcol, idcol, fetch_up(ks) ? ">" : "<",
             pk, pk + 1);
    return buf;
}

const char *keyset_order(const struct keyset *ks, const char *kcol, const char *idcol,
                         char *buf, size_t len)
{
    const char *dir = fetch_up(ks) ? "ASC" : "DESC";

    snprintf(buf, len, " ORDER BY %s %s, %s %s LIMIT %d", kcol, dir, idcol, dir, ks->limit);
    return buf;
}

static json_t *cursor(int64_t k, const char *id, const char *dir)
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
        next = cursor(keys[0], ids[0], "n");
        prev = more ? cursor(keys[n - 1], ids[n - 1], "p") : NULL;
    } else if (n) {
        next = more ? cursor(keys[n - 1], ids[n - 1], "n") : NULL;
        prev = pg->cursor ? cursor(keys[0], ids[0], "p") : NULL;
    }
    nc = page_cursor_encode(req, next);
    pc = page_cursor_encode(req, prev);
    json_decref(next);
    json_decref(prev);
    env = page_envelope(req, rows, nc, pc);
    return env;
}
