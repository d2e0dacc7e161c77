/* notify.h - stored notifications, delivered live after commit.
 *
 * notify() inserts a notification row inside the caller's transaction and
 * registers an after-commit hook that publishes it to the user's open event
 * streams (sse_publish on this node; through Redis pub/sub to every node
 * when SOUK_REDIS_URL is set). A rolled-back change notifies nobody. */
#ifndef SOUK_NOTIFY_H
#define SOUK_NOTIFY_H

#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct router;

/* type: "bid.placed", "order.updated", ... payload: borrowed. */
int notify(struct db_conn *tx, const char *user_id, const char *type, const json_t *payload,
           struct souk_errinfo *ei);

/* Hands a committed notification to this node's open event streams: the
 * HTTP layer's sse_publish, set by app.c before serving (an inversion, so
 * that notify does not depend on HTTP). NULL (the default): no streams. */
typedef int (*notify_deliver_fn)(const char *user_id, const char *id, const char *type,
                                 const char *data);
void notify_set_deliver(notify_deliver_fn fn);

int notify_init(struct db *db, const char *redis_url, struct souk_errinfo *ei);
/* The notifications part of the export and the erasure (userdata.h). */
void notify_userdata_register(void);
void notify_shutdown(void);
/* GET /api/notifications/, POST /api/notifications/{id}/read/, GET /api/events/ */
void notify_http_register(struct router *r);

#endif
