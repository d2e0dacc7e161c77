/* keyset.h - keyset pagination over (sort key BIGINT, id) for the lists of
 * users and vendors, on top of page_parse/page_envelope (http.h).
 *
 * The cursor is {"k": <int64 sort key>, "id": "<uuid>", "d": "n"|"p"}.
 * A domain list function appends keyset_where() to its WHERE clause and
 * keyset_order() as its ORDER BY, fetches ks->limit rows (page size + 1),
 * and the handler hands the rows' keys to keyset_envelope(), which drops
 * the extra row, restores display order and builds the links.
 *
 * (A candidate for src/http/pagination.c once a second owner needs it.)
 * Thread safety: pure; everything is in the request.
 */
#ifndef SOUK_USERS_KEYSET_H
#define SOUK_USERS_KEYSET_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct http_req;
struct page;

struct keyset {
    int limit;      /* rows to fetch: page size + 1 */
    int has_cursor;
    int backwards;  /* fetch the page before the cursor (in reverse order) */
    int asc;        /* the list's display order is ascending */
    int64_t k;
    char id[37];
};

/* Validates the cursor of a parsed page. asc: display order. */
int keyset_from_page(const struct page *pg, int asc, struct keyset *ks,
                     struct souk_errinfo *ei);
/* " AND (kcol, idcol) < ($pk, $pk+1)" (or ">"), "" without a cursor; the
 * caller binds ks->k and ks->id as parameters pk and pk+1. */
const char *keyset_where(const struct keyset *ks, const char *kcol, const char *idcol, int pk,
                         char *buf, size_t len);
/* " ORDER BY kcol DESC, idcol DESC LIMIT n" in fetch order. */
const char *keyset_order(const struct keyset *ks, const char *kcol, const char *idcol,
                         char *buf, size_t len);
/* rows: JSON array in fetch order (stolen); keys/ids: each row's sort key
 * and id, same order. Returns the page envelope (new reference). */
json_t *keyset_envelope(struct http_req *req, const struct page *pg, const struct keyset *ks,
                        json_t *rows, const int64_t *keys, const char *const *ids);

#endif
