/* keyset.c - see keyset.h. */
#include <stdio.h>

#include "db/keyset.h"

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
