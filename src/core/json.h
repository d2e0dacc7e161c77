/* json.h - validating a JSON body into a C struct.
 *
 * A struct jv walks one JSON object; each getter checks presence, type and
 * range, and on a problem records a message under the field's name in
 * ei->errors. After all getters, jv_done() returns SOUK_INVALID when any
 * field was bad (with every bad field named), else SOUK_OK. Unknown fields
 * are ignored (API.md). Strings returned point into the JSON object (they
 * live as long as it does) unless said otherwise.
 *
 *     struct jv v; jv_begin(&v, body, ei);
 *     in->email = jv_str(&v, "email", JV_REQUIRED, 3, 254);
 *     in->age   = jv_int(&v, "age", 0, 0, 150, 18);
 *     return jv_done(&v);
 */
#ifndef SOUK_JSON_H
#define SOUK_JSON_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

#define JV_REQUIRED 1
#define JV_OPTIONAL 0
#define JV_NULLABLE 2 /* with JV_OPTIONAL: an explicit null is allowed */

struct jv {
    const json_t *obj;
    struct souk_errinfo *ei;
    int bad;
};

/* Begins validation. A body that is not a JSON object is recorded as a
 * non-field error ("non_field_errors") and jv_done() will fail. */
void jv_begin(struct jv *v, const json_t *obj, struct souk_errinfo *ei);
int jv_done(struct jv *v);
/* 1 when the key is present (even as null). */
int jv_has(const struct jv *v, const char *key);
/* Records a custom error for a field (cross-field rules). */
void jv_error(struct jv *v, const char *field, const char *msg);

/* String of minlen..maxlen bytes (UTF-8 text; NUL refused). Missing and
 * optional -> def. Leading/trailing whitespace is kept. */
const char *jv_str(struct jv *v, const char *key, int flags, size_t minlen, size_t maxlen,
                   const char *def);
/* One of the given values (NULL-terminated list). */
const char *jv_enum(struct jv *v, const char *key, int flags, const char *const *allowed,
                    const char *def);
/* Integer in [min, max]; a real or a string is refused. */
int64_t jv_int(struct jv *v, const char *key, int flags, int64_t min, int64_t max, int64_t def);
/* true/false only. */
int jv_bool(struct jv *v, const char *key, int flags, int def);
/* Money per money_from_json(), in [min, max] minor units. */
int64_t jv_money(struct jv *v, const char *key, int flags, int64_t min, int64_t max, int64_t def);
/* UUID string (normalised to lower case into out). Returns 1 if set. */
int jv_uuid(struct jv *v, const char *key, int flags, char out[37]);
/* RFC 3339 timestamp -> microseconds. Returns 1 if set. */
int jv_time(struct jv *v, const char *key, int flags, int64_t *out);
/* Array of strings, each minlen..maxlen, at most max_items. Returns the
 * array (borrowed) or NULL when missing/bad. */
const json_t *jv_str_array(struct jv *v, const char *key, int flags, size_t max_items,
                           size_t minlen, size_t maxlen);

/* Small helpers for building responses. */
json_t *json_str_or_null(const char *s);     /* new reference */
json_t *json_time(int64_t us);               /* RFC 3339 string, new reference */
json_t *json_time_or_null(int64_t us, int is_null);

/* Decodes len characters of base64url (core/b64.h, strict) holding a JSON object, as JWT parts
 * and page cursors carry them. Returns a new reference, or NULL when len is 0 or more than
 * JSON_B64URL_MAX, the text is not base64url, not JSON, has duplicate keys or is not an object. */
#define JSON_B64URL_MAX 2048
json_t *json_object_from_b64url(const char *s, size_t len);

#endif
