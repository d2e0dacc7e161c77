/* json.c - field validators that collect every problem of a body at once
 * (DRF-style {"field": ["message"]}), and small response helpers. */
#include <stdio.h>
#include <string.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"

void jv_begin(struct jv *v, const json_t *obj, struct souk_errinfo *ei)
{
    v->obj = obj;
    v->ei = ei;
    v->bad = 0;
    if (!json_is_object(obj))
        jv_error(v, "non_field_errors", "Expected a JSON object.");
}

int jv_done(struct jv *v)
{
    if (!v->bad)
        return SOUK_OK;
    if (v->ei && !v->ei->detail[0])
        snprintf(v->ei->detail, sizeof v->ei->detail, "Invalid input.");
    return SOUK_INVALID;
}

int jv_has(const struct jv *v, const char *key)
{
    return json_is_object(v->obj) && json_object_get(v->obj, key) != NULL;
}

void jv_error(struct jv *v, const char *field, const char *msg)
{
    v->bad = 1;
    souk_errinfo_field(v->ei, field, msg);
}

/* Common prologue: 1 = a value to check in *out, 0 = use the default. */
static int get(struct jv *v, const char *key, int flags, const json_t **out)
{
    const json_t *x = json_is_object(v->obj) ? json_object_get(v->obj, key) : NULL;

    if (!x) {
        if (flags & JV_REQUIRED)
            jv_error(v, key, "This field is required.");
        return 0;
    }
    if (json_is_null(x)) {
        if (!(flags & JV_NULLABLE) || (flags & JV_REQUIRED))
            jv_error(v, key, "This field may not be null.");
        return 0;
    }
    *out = x;
    return 1;
}

static int utf8_text_ok(const json_t *x)
{
    return strlen(json_string_value(x)) == json_string_length(x); /* no NUL inside */
}

const char *jv_str(struct jv *v, const char *key, int flags, size_t minlen, size_t maxlen,
                   const char *def)
{
    const json_t *x;
    char msg[96];

    if (!get(v, key, flags, &x))
        return def;
    if (!json_is_string(x) || !utf8_text_ok(x)) {
        jv_error(v, key, "Not a valid string.");
        return def;
    }
    size_t n = json_string_length(x);
    if (n < minlen) {
        if (minlen == 1)
            snprintf(msg, sizeof msg, "This field may not be blank.");
        else
            snprintf(msg, sizeof msg, "Ensure this field has at least %zu characters.", minlen);
        jv_error(v, key, msg);
        return def;
    }
    if (n > maxlen) {
        snprintf(msg, sizeof msg, "Ensure this field has no more than %zu characters.", maxlen);
        jv_error(v, key, msg);
        return def;
    }
    return json_string_value(x);
}

const char *jv_enum(struct jv *v, const char *key, int flags, const char *const *allowed,
                    const char *def)
{
    const json_t *x;
    char msg[160];

    if (!get(v, key, flags, &x))
        return def;
    if (json_is_string(x) && utf8_text_ok(x)) {
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, json_string_value(x)) == 0)
                return *a;
    }
    snprintf(msg, sizeof msg, "\"%.60s\" is not a valid choice.",
             json_is_string(x) ? json_string_value(x) : "value");
    jv_error(v, key, msg);
    return def;
}

int64_t jv_int(struct jv *v, const char *key, int flags, int64_t min, int64_t max, int64_t def)
{
    const json_t *x;
    char msg[96];

    if (!get(v, key, flags, &x))
        return def;
    if (!json_is_integer(x)) {
        jv_error(v, key, "A valid integer is required.");
        return def;
    }
    json_int_t i = json_integer_value(x);
    if (i < min) {
        snprintf(msg, sizeof msg, "Ensure this value is greater than or equal to %lld.",
                 (long long)min);
        jv_error(v, key, msg);
        return def;
    }
    if (i > max) {
        snprintf(msg, sizeof msg, "Ensure this value is less than or equal to %lld.",
                 (long long)max);
        jv_error(v, key, msg);
        return def;
    }
    return i;
}

int jv_bool(struct jv *v, const char *key, int flags, int def)
{
    const json_t *x;

    if (!get(v, key, flags, &x))
        return def;
    if (!json_is_boolean(x)) {
        jv_error(v, key, "Must be a valid boolean.");
        return def;
    }
    return json_is_true(x);
}

int64_t jv_money(struct jv *v, const char *key, int flags, int64_t min, int64_t max, int64_t def)
{
    const json_t *x;
    int64_t m;
    char msg[128], a[MONEY_STR_LEN];

    if (!get(v, key, flags, &x))
        return def;
    if (json_is_real(x)) {
        jv_error(v, key, "Send money as a string with two decimals, e.g. \"29.99\"; floats are not accepted.");
        return def;
    }
    if (money_from_json(x, min < 0, &m)) {
        jv_error(v, key, "A valid amount with at most two decimals is required, e.g. \"29.99\".");
        return def;
    }
    if (m < min) {
        money_format(min, a);
        snprintf(msg, sizeof msg, "Ensure this amount is at least %s.", a);
        jv_error(v, key, msg);
        return def;
    }
    if (m > max) {
        money_format(max, a);
        snprintf(msg, sizeof msg, "Ensure this amount is at most %s.", a);
        jv_error(v, key, msg);
        return def;
    }
    return m;
}

int jv_uuid(struct jv *v, const char *key, int flags, char out[37])
{
    const json_t *x;

    if (!get(v, key, flags, &x))
        return 0;
    if (!json_is_string(x) || uuid_normalize(json_string_value(x), out)) {
        jv_error(v, key, "Must be a valid UUID.");
        return 0;
    }
    return 1;
}

int jv_time(struct jv *v, const char *key, int flags, int64_t *out)
{
    const json_t *x;

    if (!get(v, key, flags, &x))
        return 0;
    if (!json_is_string(x) || clock_parse(json_string_value(x), out)) {
        jv_error(v, key, "Datetime has wrong format. Use RFC 3339, e.g. 2026-01-13T15:30:00Z.");
        return 0;
    }
    return 1;
}

const json_t *jv_str_array(struct jv *v, const char *key, int flags, size_t max_items,
                           size_t minlen, size_t maxlen)
{
    const json_t *x, *it;
    size_t i;
    char msg[96];

    if (!get(v, key, flags, &x))
        return NULL;
    if (!json_is_array(x)) {
        jv_error(v, key, "Expected a list of items.");
        return NULL;
    }
    if (json_array_size(x) > max_items) {
        snprintf(msg, sizeof msg, "Ensure this field has no more than %zu elements.", max_items);
        jv_error(v, key, msg);
        return NULL;
    }
    json_array_foreach(x, i, it) {
        if (!json_is_string(it) || !utf8_text_ok(it) || json_string_length(it) < minlen ||
            json_string_length(it) > maxlen) {
            snprintf(msg, sizeof msg, "Item %zu: a string of %zu to %zu characters is required.",
                     i, minlen, maxlen);
            jv_error(v, key, msg);
            return NULL;
        }
    }
    return x;
}

json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *json_time(int64_t us)
{
    char buf[CLOCK_RFC3339_LEN];
    clock_format(us, buf);
    return json_string(buf);
}

json_t *json_time_or_null(int64_t us, int is_null)
{
    return is_null ? json_null() : json_time(us);
}

json_t *json_object_from_b64url(const char *s, size_t len)
{
    unsigned char buf[B64_DECODED_MAX(JSON_B64URL_MAX)];
    size_t n;
    json_t *j;

    if (len == 0 || len > JSON_B64URL_MAX || b64url_decode(buf, &n, s, len))
        return NULL;
    j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}
