/* internal.h - shared between notify.c and notify_http.c (not for other
 * modules). */
#ifndef SOUK_NOTIFY_INTERNAL_H
#define SOUK_NOTIFY_INTERNAL_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_res;

/* The queries below read these columns and give the API's objects
 * {id, type, payload, created_at, read_at} (new references). */
#define NOTIFY_COLS "id, type, payload, created_at, read_at"

/* One page of user_id's notifications (only unread ones when unread is 1).
 * Without `after` the newest `limit` ones; with it, the ones older than
 * `after` (newest first) or, when backwards, newer than it (oldest first). */
struct notify_page_q {
    const char *user, *after;
    int unread, backwards, limit;
};
int notify_list(struct db *db, const struct notify_page_q *q, json_t **rows,
                struct souk_errinfo *ei);
/* Marks user_id's notification id read (kept when already read); returns
 * it, or SOUK_NOT_FOUND when user_id has no such notification. */
int notify_mark_read(struct db *db, const char *id, const char *user_id, json_t **out,
                     struct souk_errinfo *ei);
/* At most `max` of user_id's notifications after id `after`, oldest first. */
int notify_replay(struct db *db, const char *user_id, const char *after, int max, json_t **rows,
                  struct souk_errinfo *ei);

/* {id, type, payload, created_at, read_at}: new reference. payload_text
 * is the stored JSON text (an unreadable one shows as {}). */
json_t *notify_json(const char *id, const char *type, const char *payload_text, int64_t created_at,
                    int64_t read_at, int read_is_null);
/* seen.c: records that event `id` was handed to this node's streams;
 * 1 when it was not seen in the last two minutes (deliver it), else 0. */
int notify_seen_add(const char *id, int64_t now_us);
void notify_seen_clear(void);

/* "id: ...\nevent: ...\ndata: ...\n\n" (malloc'd). */
char *notify_sse_frame(const char *id, const char *type, const char *data);

#endif
