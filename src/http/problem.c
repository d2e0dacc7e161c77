/* problem.c - the one place where an error becomes an HTTP status and an
 * RFC 9457 problem+json body:
 *
 *   {"type": "https://souk.dev/problems/<code>", "title": ..., "status": ...,
 *    "code": ..., "detail"?: ..., "errors"?: {...}} + ei->extra
 *
 * `code` is ei->code when set, else souk_err_code(err). ei->extra is
 * merged without overriding the standard members. For server-side
 * failures (INTERNAL, UNAVAILABLE, RETRY) the detail may hold a driver
 * message: it is logged with the request id and never sent.
 * Runs on the thread that owns the request; no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http.h"

struct problem_kind {
    int status;
    const char *title;
    int hide_detail;
};

static const struct problem_kind kinds[SOUK_ERR__COUNT] = {
    [SOUK_OK] = {500, "Internal server error", 1},
    [SOUK_INVALID] = {400, "Invalid request", 0},
    [SOUK_UNAUTHENTICATED] = {401, "Authentication required", 0},
    [SOUK_FORBIDDEN] = {403, "Forbidden", 0},
    [SOUK_NOT_FOUND] = {404, "Not found", 0},
    [SOUK_CONFLICT] = {409, "Conflict", 0},
    [SOUK_PRECONDITION] = {409, "Invalid state", 0},
    [SOUK_UPSTREAM] = {502, "Upstream service error", 0},
    [SOUK_RETRY] = {503, "Temporarily unavailable", 1},
    [SOUK_INTERNAL] = {500, "Internal server error", 1},
    [SOUK_TOO_LARGE] = {413, "Payload too large", 0},
    [SOUK_UNSUPPORTED] = {415, "Unsupported media type", 0},
    [SOUK_RATE_LIMITED] = {429, "Too many requests", 0},
    [SOUK_TOKEN_INVALID] = {401, "Invalid token", 0},
    [SOUK_METHOD] = {405, "Method not allowed", 0},
    [SOUK_UNAVAILABLE] = {503, "Service unavailable", 1},
};

static void log_hidden(const struct http_req *req, int err, const char *code, const char *detail)
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "request_id",
                          req->request_id ? req->request_id : "-", "route",
                          req->route ? req->route : "-", "err", souk_err_str(err), "code", code,
                          "detail", detail);
    log_json(LOG_ERROR, "request failed", f);
}

static void set_headers(struct http_req *req, int err, const struct souk_errinfo *ei)
{
    char buf[32];
    if (err == SOUK_RATE_LIMITED || err == SOUK_RETRY) {
        int s = ei && ei->retry_after > 0 ? ei->retry_after : 1;
        snprintf(buf, sizeof buf, "%d", s);
        http_set_header(req, "Retry-After", buf);
    }
    if (err == SOUK_UNAUTHENTICATED)
        http_set_header(req, "WWW-Authenticate", "Bearer");
    else if (err == SOUK_TOKEN_INVALID)
        http_set_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

int http_problem_status(int err)
{
    return err > 0 && err < SOUK_ERR__COUNT ? kinds[err].status : 500;
}

int http_problem(struct http_req *req, int err, struct souk_errinfo *ei)
{
    if (err <= SOUK_OK || err >= SOUK_ERR__COUNT)
        err = SOUK_INTERNAL;
    const struct problem_kind *k = &kinds[err];
    const char *code = ei && ei->code ? ei->code : souk_err_code(err);
    const char *detail = ei && ei->detail[0] ? ei->detail : NULL;
    char type[160];

    snprintf(type, sizeof type, "https://souk.dev/problems/%s", code);
    json_t *body = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", k->title, "status",
                             k->status, "code", code);
    if (k->hide_detail) {
        if (detail)
            log_hidden(req, err, code, detail);
    } else if (detail) {
        json_object_set_new(body, "detail", json_string(detail));
    }
    if (ei && ei->errors)
        json_object_set(body, "errors", ei->errors);
    if (ei && json_is_object(ei->extra))
        json_object_update_missing(body, ei->extra);
    set_headers(req, err, ei);
    req->err_code = code; /* a string literal or souk_err_code(): static */
    http_json(req, k->status, body);
    req->resp_type = "application/problem+json";
    souk_errinfo_cleanup(ei);
    return 0;
}
