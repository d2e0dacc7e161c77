/* erase.c - the requests module's part of the export and the erasure
 * (userdata.h): requests (sent or received) and reviews (written or
 * received).
 *
 * Erasure: the user's open requests, on either side, are cancelled; the
 * texts the user wrote are erased (a client's request messages, an author's
 * review texts, a specialist's replies) while the rows stay: a review keeps
 * its rating and shows its author as USERDATA_ERASED_NAME (the author's
 * tombstone has erased_at; see REVIEW_COLS in reviews.c).
 */
#include <jansson.h>

#include "core/clock.h"
#include "db/db.h"
#include "requests/requests.h"
#include "userdata/userdata.h"

#define REQUEST_EXPORT_COLS                                                                        \
    "SELECT id, client_id, specialist_id, project_id, message, budget, currency, status, "         \
    "client_finished_at, specialist_finished_at, completed_at, created_at, updated_at "            \
    "FROM requests "
#define REQUEST_EXPORT_TYPES "sssssmssttttt"

static int export_requests(struct db_conn *c, const struct userdata_who *w, json_t **out,
                           struct souk_errinfo *ei)
{
    return userdata_rows(c,
                         REQUEST_EXPORT_COLS "WHERE client_id = $1 OR specialist_user_id = $1 "
                                             "ORDER BY created_at DESC, id DESC",
                         DB_PARAMS(DBT(w->user_id)), REQUEST_EXPORT_TYPES, out, ei);
}

#define REVIEW_EXPORT_COLS                                                                         \
    "SELECT id, request_id, specialist_id, author_id, rating, text, reply_text, reply_at, "        \
    "hidden_at, created_at, updated_at FROM reviews "
#define REVIEW_EXPORT_TYPES "ssssisstttt"

/* The reviews the user wrote and, for a specialist, those about them. */
static int export_reviews(struct db_conn *c, const struct userdata_who *w, json_t **out,
                          struct souk_errinfo *ei)
{
    if (!w->vendor_id[0])
        return userdata_rows(c,
                             REVIEW_EXPORT_COLS "WHERE author_id = $1 "
                                                "ORDER BY created_at DESC, id DESC",
                             DB_PARAMS(DBT(w->user_id)), REVIEW_EXPORT_TYPES, out, ei);
    return userdata_rows(c,
                         REVIEW_EXPORT_COLS "WHERE author_id = $1 OR specialist_id = $2 "
                                            "ORDER BY created_at DESC, id DESC",
                         DB_PARAMS(DBT(w->user_id), DBT(w->vendor_id)), REVIEW_EXPORT_TYPES, out,
                         ei);
}

static const char *const erase_sql[] = {
    "UPDATE requests SET status = 'cancelled', updated_at = $2 WHERE (client_id = $1 OR "
    "specialist_user_id = $1) AND status IN ('new', 'accepted')",
    "UPDATE requests SET message = '', updated_at = $2 WHERE client_id = $1",
    "UPDATE reviews SET text = '', updated_at = $2 WHERE author_id = $1",
    "UPDATE reviews SET reply_text = NULL, reply_at = NULL, updated_at = $2 WHERE request_id IN "
    "(SELECT id FROM requests WHERE specialist_user_id = $1)",
    NULL};

static int erase_requests(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    int err = SOUK_OK;

    for (int i = 0; !err && erase_sql[i]; i++)
        err = db_exec(c, erase_sql[i], DB_PARAMS(DBT(w->user_id), DBI(now)), NULL, ei);
    return err;
}

static const struct userdata_part requests_part = {
    .key = "requests", .export_fn = export_requests, .erase = erase_requests, .order = 500};
static const struct userdata_part reviews_part = {
    .key = "reviews", .export_fn = export_reviews, .order = 500};

void requests_userdata_register(void)
{
    userdata_register(&requests_part);
    userdata_register(&reviews_part);
}
