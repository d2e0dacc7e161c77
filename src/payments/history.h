/* history.h - read side of the payments ledger, for payments_http.c. */
#ifndef SOUK_PAYMENTS_HISTORY_H
#define SOUK_PAYMENTS_HISTORY_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct keyset;

#define PAYMENTS_PAGE_MAX 101 /* page size max + 1 */

struct payments_page {
    json_t *rows; /* new reference, fetch order */
    int n;
    int64_t keys[PAYMENTS_PAGE_MAX];
    char ids[PAYMENTS_PAGE_MAX][37];
};

/* The user's payments, newest first, keyset-paginated on (created_at, id). */
int payments_history(struct db *db, const char *user_id, const struct keyset *ks,
                     struct payments_page *out, struct souk_errinfo *ei);
/* One payment with its ledger lines; owner gets its user id. */
int payments_get(struct db *db, const char *id, char owner[37], json_t **out,
                 struct souk_errinfo *ei);
/* Inbox rows: status "open" (review + failed, the default), "all", or one
 * status; received before (before, before_id) when before != 0. */
int payments_events_list(struct db *db, const char *status, int64_t before,
                         const char *before_id, int limit, json_t **rows,
                         struct souk_errinfo *ei);

#endif
