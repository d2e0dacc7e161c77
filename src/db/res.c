/* res.c - materialised results and the per-connection statement cache.
 *
 * A struct db_res holds a copy of every row, whatever the dialect, so that a
 * result outlives the statement (SQLite) or the PGresult (PostgreSQL) that
 * produced it and both dialects behave the same. Cells are text, as both
 * drivers give them; all cell bytes live in one growing buffer and are found
 * by offset (0 = SQL NULL), so a result is a handful of allocations.
 *
 * The statement cache maps SQL text to a driver value (a prepared
 * sqlite3_stmt or the name of a PostgreSQL prepared statement). It belongs
 * to one connection and is therefore used by one thread at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/arena.h"
#include "db/internal.h"

struct db_res {
    int nrows, ncols, cap_rows;
    char **names;  /* ncols column names */
    size_t *cells; /* nrows * ncols offsets into buf, plus one; 0 = NULL */
    char *buf;
    size_t len, cap;
};

/* ---- building ----------------------------------------------------------- */

struct db_res *db_res_new(int ncols)
{
    struct db_res *r = xcalloc(1, sizeof(*r));

    r->ncols = ncols > 0 ? ncols : 0;
    r->names = xcalloc((size_t)r->ncols + 1, sizeof(char *));
    r->buf = xmalloc(r->cap = 256);
    return r;
}

void db_res_set_name(struct db_res *r, int col, const char *name)
{
    if (col < 0 || col >= r->ncols)
        return;
    free(r->names[col]);
    r->names[col] = xstrdup(name ? name : "");
}

int db_res_add_row(struct db_res *r)
{
    size_t per = (size_t)r->ncols;

    if (r->nrows == r->cap_rows) {
        r->cap_rows = r->cap_rows ? r->cap_rows * 2 : 8;
        r->cells = xrealloc(r->cells, (size_t)r->cap_rows * (per ? per : 1) * sizeof(size_t));
    }
    memset(r->cells + (size_t)r->nrows * per, 0, per * sizeof(size_t));
    return r->nrows++;
}

void db_res_set_cell(struct db_res *r, int col, const char *s, size_t len)
{
    size_t *cell;

    if (col < 0 || col >= r->ncols || r->nrows == 0)
        return;
    cell = &r->cells[(size_t)(r->nrows - 1) * (size_t)r->ncols + (size_t)col];
    if (!s) {
        *cell = 0;
        return;
    }
    if (r->len + len + 1 > r->cap) {
        while (r->len + len + 1 > r->cap)
            r->cap *= 2;
        r->buf = xrealloc(r->buf, r->cap);
    }
    memcpy(r->buf + r->len, s, len);
    r->buf[r->len + len] = '\0';
    *cell = r->len + 1;
    r->len += len + 1;
}

/* ---- reading ------------------------------------------------------------ */

int db_nrows(const struct db_res *r)
{
    return r ? r->nrows : 0;
}

int db_ncols(const struct db_res *r)
{
    return r ? r->ncols : 0;
}

const char *db_colname(const struct db_res *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return NULL;
    return r->names[col];
}

const char *db_get(const struct db_res *r, int row, int col)
{
    size_t off;

    if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return NULL;
    off = r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
    return off ? r->buf + off - 1 : NULL;
}

int db_isnull(const struct db_res *r, int row, int col)
{
    return db_get(r, row, col) == NULL;
}

int64_t db_int(const struct db_res *r, int row, int col)
{
    const char *s = db_get(r, row, col);

    return s ? strtoll(s, NULL, 10) : 0;
}

int db_bool(const struct db_res *r, int row, int col)
{
    const char *s = db_get(r, row, col);

    if (!s)
        return 0;
    return strcmp(s, "t") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

void db_res_free(struct db_res *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->ncols; i++)
        free(r->names[i]);
    free(r->names);
    free(r->cells);
    free(r->buf);
    free(r);
}

/* ---- statement cache ---------------------------------------------------- */

static unsigned hash_sql(const char *s)
{
    return str_hash(s) % DB_CACHE_BUCKETS;
}

void *db_cache_get(const struct db_cache *c, const char *sql)
{
    for (const struct db_cache_entry *e = c->bucket[hash_sql(sql)]; e; e = e->next)
        if (strcmp(e->sql, sql) == 0)
            return e->val;
    return NULL;
}

int db_cache_put(struct db_cache *c, const char *sql, void *val)
{
    struct db_cache_entry *e;
    unsigned h;

    if (c->n >= DB_CACHE_MAX)
        return -1;
    h = hash_sql(sql);
    e = xmalloc(sizeof(*e));
    e->sql = xstrdup(sql);
    e->val = val;
    e->next = c->bucket[h];
    c->bucket[h] = e;
    c->n++;
    return 0;
}

void db_cache_clear(struct db_cache *c, void (*free_val)(void *val))
{
    for (int i = 0; i < DB_CACHE_BUCKETS; i++) {
        struct db_cache_entry *e = c->bucket[i], *next;

        for (; e; e = next) {
            next = e->next;
            if (free_val)
                free_val(e->val);
            free(e->sql);
            free(e);
        }
        c->bucket[i] = NULL;
    }
    c->n = 0;
}
