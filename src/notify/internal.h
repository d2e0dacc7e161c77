/* internal.h - shared between notify.c and notify_http.c (not for other
 * modules). */
#ifndef SOUK_NOTIFY_INTERNAL_H
#define SOUK_NOTIFY_INTERNAL_H

#include <stdint.h>
#include <jansson.h>

/* {id, type, payload, created_at, read_at}: new reference. payload_text
 * is the stored JSON text (an unreadable one shows as {}). */
json_t *notify_json(const char *id, const char *type, const char *payload_text, int64_t created_at,
                    int64_t read_at, int read_is_null);
/* "id: ...\nevent: ...\ndata: ...\n\n" (malloc'd). */
char *notify_sse_frame(const char *id, const char *type, const char *data);

#endif
