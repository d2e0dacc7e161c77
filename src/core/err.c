/* err.c - names and default API codes of the souk error values. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

static const struct {
    const char *name;
    const char *code;
} errs[SOUK_ERR__COUNT] = {
    [SOUK_OK] = {"OK", "ok"},
    [SOUK_INVALID] = {"INVALID", "validation_error"},
    [SOUK_UNAUTHENTICATED] = {"UNAUTHENTICATED", "unauthenticated"},
    [SOUK_FORBIDDEN] = {"FORBIDDEN", "forbidden"},
    [SOUK_NOT_FOUND] = {"NOT_FOUND", "not_found"},
    [SOUK_CONFLICT] = {"CONFLICT", "conflict"},
    [SOUK_PRECONDITION] = {"PRECONDITION", "invalid_state"},
    [SOUK_UPSTREAM] = {"UPSTREAM", "upstream_error"},
    [SOUK_RETRY] = {"RETRY", "retry"},
    [SOUK_INTERNAL] = {"INTERNAL", "internal_error"},
    [SOUK_TOO_LARGE] = {"TOO_LARGE", "payload_too_large"},
    [SOUK_UNSUPPORTED] = {"UNSUPPORTED", "unsupported_media_type"},
    [SOUK_RATE_LIMITED] = {"RATE_LIMITED", "rate_limited"},
    [SOUK_TOKEN_INVALID] = {"TOKEN_INVALID", "token_invalid"},
    [SOUK_METHOD] = {"METHOD", "method_not_allowed"},
    [SOUK_UNAVAILABLE] = {"UNAVAILABLE", "unavailable"},
};

const char *souk_err_str(int err)
{
    if (err < 0 || err >= SOUK_ERR__COUNT)
        return "UNKNOWN";
    return errs[err].name;
}

const char *souk_err_code(int err)
{
    if (err < 0 || err >= SOUK_ERR__COUNT)
        return "internal_error";
    return errs[err].code;
}

static int vfail(struct souk_errinfo *ei, int err, const char *code, const char *fmt, va_list ap)
{
    if (!ei)
        return err;
    if (code)
        ei->code = code;
    if (fmt)
        vsnprintf(ei->detail, sizeof ei->detail, fmt, ap);
    return err;
}

int souk_fail(struct souk_errinfo *ei, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ei, err, NULL, fmt, ap);
    va_end(ap);
    return err;
}

int souk_fail_code(struct souk_errinfo *ei, int err, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ei, err, code, fmt, ap);
    va_end(ap);
    return err;
}

void souk_errinfo_field(struct souk_errinfo *ei, const char *field, const char *msg)
{
    json_t *list;

    if (!ei)
        return;
    if (!ei->errors)
        ei->errors = json_object();
    list = json_object_get(ei->errors, field);
    if (!list) {
        list = json_array();
        json_object_set_new(ei->errors, field, list);
    }
    json_array_append_new(list, json_string(msg));
}

void souk_errinfo_cleanup(struct souk_errinfo *ei)
{
    if (!ei)
        return;
    json_decref(ei->errors);
    json_decref(ei->extra);
    memset(ei, 0, sizeof *ei);
}
