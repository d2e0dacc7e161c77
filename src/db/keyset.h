/* keyset.h - keyset pagination over (sort key BIGINT, id): the SQL half.
 *
 * A list that pages by keyset keeps a `struct keyset` (filled from the
 * request's cursor by keyset_from_page() in src/http/, see http.h), appends
 * keyset_where() to its WHERE clause and keyset_order() as its ORDER BY, and
 * fetches ks->limit rows (page size + 1). The handler hands the rows' keys
 * to keyset_envelope() (http.h), which drops the extra row, restores display
 * order and builds the links. Domain code includes only this header.
 *
 * Thread safety: pure; everything is in the caller's structs.
 */
#ifndef SOUK_DB_KEYSET_H
#define SOUK_DB_KEYSET_H

#include <stddef.h>
#include <stdint.h>

struct keyset {
    int limit;      /* rows to fetch: page size + 1 */
    int has_cursor;
    int backwards;  /* fetch the page before the cursor (in reverse order) */
    int asc;        /* the list's display order is ascending */
    int64_t k;
    char id[37];
};

/* " AND (kcol, idcol) < ($pk, $pk+1)" (or ">"), "" without a cursor; the
 * caller binds ks->k and ks->id as parameters pk and pk+1. */
const char *keyset_where(const struct keyset *ks, const char *kcol, const char *idcol, int pk,
                         char *buf, size_t len);
/* " ORDER BY kcol DESC, idcol DESC LIMIT n" in fetch order. */
const char *keyset_order(const struct keyset *ks, const char *kcol, const char *idcol,
                         char *buf, size_t len);

#endif
