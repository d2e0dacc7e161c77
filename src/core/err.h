/* err.h - the one error vocabulary of souk.
 *
 * Every layer returns an `int` that is 0 (SOUK_OK) or one of these values.
 * Details (which field, a human sentence, a stable API code such as
 * "bid_too_low") travel beside it in a struct souk_errinfo. Only
 * src/http/problem.c turns the pair into an HTTP status and a body.
 */
#ifndef SOUK_ERR_H
#define SOUK_ERR_H

#include <jansson.h>

enum souk_err {
    SOUK_OK = 0,
    SOUK_INVALID = 1,         /* 400 validation_error */
    SOUK_UNAUTHENTICATED = 2, /* 401 unauthenticated */
    SOUK_FORBIDDEN = 3,       /* 403 forbidden */
    SOUK_NOT_FOUND = 4,       /* 404 not_found */
    SOUK_CONFLICT = 5,        /* 409 conflict */
    SOUK_PRECONDITION = 6,    /* 409 invalid_state (a state forbids the action) */
    SOUK_UPSTREAM = 7,        /* 502 upstream_error */
    SOUK_RETRY = 8,           /* transient: busy database, serialization failure */
    SOUK_INTERNAL = 9,        /* 500 internal_error */
    SOUK_TOO_LARGE = 10,      /* 413 payload_too_large */
    SOUK_UNSUPPORTED = 11,    /* 415 unsupported_media_type */
    SOUK_RATE_LIMITED = 12,   /* 429 rate_limited */
    SOUK_TOKEN_INVALID = 13,  /* 401 token_invalid */
    SOUK_METHOD = 14,         /* 405 method_not_allowed */
    SOUK_UNAVAILABLE = 15,    /* 503 unavailable (shutting down, db down) */
    SOUK_ERR__COUNT
};

/* Details of a failure. Zero-initialise; call souk_errinfo_cleanup() when
 * done. `code` overrides the default API code of the error (for example
 * "bid_too_low" for a SOUK_CONFLICT); it must point to a string literal.
 * `errors` is {"field": ["message", ...]}; `extra` is merged into the
 * problem body (the chef's plans with subscription_required, say). */
struct souk_errinfo {
    const char *code;
    char detail[256];
    json_t *errors;
    json_t *extra;
    int retry_after; /* seconds, for SOUK_RATE_LIMITED */
};

const char *souk_err_str(int err);          /* "INVALID", ... */
const char *souk_err_code(int err);         /* default API code: "validation_error" */

/* Sets detail (printf-style) and returns err, so callers can
 * `return souk_fail(ei, SOUK_NOT_FOUND, "no such order");`. ei may be NULL. */
int souk_fail(struct souk_errinfo *ei, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a stable API code (a string literal). */
int souk_fail_code(struct souk_errinfo *ei, int err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds "message" to errors[field]. ei may be NULL. */
void souk_errinfo_field(struct souk_errinfo *ei, const char *field, const char *msg);
void souk_errinfo_cleanup(struct souk_errinfo *ei);

#endif
