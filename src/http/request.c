/* request.c - the request as handlers see it: accessors, the query-string
 * parser, the JSON body, and the responders (except http_problem, which is
 * problem.c's, and http_sse_start, sse.c's).
 *
 * Everything here runs on the one thread that currently owns the request
 * (an MHD thread while receiving, then one worker): no locking.
 *
 * JSON bodies are parsed with JSON_REJECT_DUPLICATES: a body such as
 * {"amount": "1.00", "amount": "900.00"} is ambiguous (parsers disagree on
 * which one wins), so it is refused with 400 validation_error rather than
 * silently taking one of the values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/config.h"
#include "db/db.h"
#include "http/internal.h"
#include "core/str.h"

#define JSON_TYPE "application/json"

struct http_req *http_req_new(void)
{
    struct arena *a = arena_new(16384);
    struct req_ctx *ctx = arena_calloc(a, 1, sizeof *ctx);
    ctx->req.arena = a;
    ctx->req.method = "GET";
    ctx->req.path = "/";
    ctx->req.route = "-";
    ctx->req.request_id = "-";
    ctx->req.client_ip = "-";
    ctx->req.peer_ip = "-";
    ctx->req.body = "";
    return &ctx->req;
}

struct db *http_read_db(struct http_req *req)
{
    return db_read_pool(req->db, req->user ? req->user->id : NULL);
}

void http_req_free(struct http_req *req)
{
    if (!req)
        return;
    struct req_ctx *ctx = req_ctx_of(req);
    for (struct kept_json *k = ctx->kept; k; k = k->next)
        json_decref(k->j);
    if (req->resp_body_malloced)
        free(req->resp_body);
    free(ctx->upload);
    multipart_free(ctx);
    arena_free(req->arena);
}

/* ---- accessors ----------------------------------------------------------- */

const char *http_header(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void http_req_add_header(struct http_req *req, const char *name, const char *value)
{
    if (req->nheaders >= HTTP_MAX_HEADERS)
        return;
    req->headers[req->nheaders].key = arena_strdup(req->arena, name);
    req->headers[req->nheaders].value = arena_strdup(req->arena, value ? value : "");
    req->nheaders++;
}

const char *http_query(const struct http_req *req, const char *key)
{
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

int http_query_all(const struct http_req *req, const char *key, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < req->nquery && n < max; i++)
        if (strcmp(req->query[i].key, key) == 0)
            out[n++] = req->query[i].value;
    return n;
}

const char *http_param(const struct http_req *req, int i)
{
    return i >= 0 && i < req->nparams ? req->params[i] : NULL;
}

/* ---- query string ---------------------------------------------------------- */

char *http_url_decode(struct arena *a, const char *s, size_t n, int plus)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = str_hex_digit(s[i + 1])) >= 0 && (lo = str_hex_digit(s[i + 2])) >= 0 && (hi | lo)) {
            /* %00 is kept as the three characters: a NUL would silently cut
             * the key or value short for every C string consumer. */
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = (plus && s[i] == '+') ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

void http_parse_query(struct http_req *req, const char *qs)
{
    req->nquery = 0;
    if (!qs)
        return;
    while (*qs && req->nquery < HTTP_MAX_QUERY) {
        size_t len = strcspn(qs, "&");
        const char *eq = memchr(qs, '=', len);
        size_t klen = eq ? (size_t)(eq - qs) : len;
        if (klen > 0) {
            struct http_kv *kv = &req->query[req->nquery++];
            kv->key = http_url_decode(req->arena, qs, klen, 1);
            kv->value = eq ? http_url_decode(req->arena, eq + 1, len - klen - 1, 1) : "";
        }
        qs += len;
        if (*qs == '&')
            qs++;
    }
}

/* ---- JSON body ------------------------------------------------------------- */

json_t *http_keep(struct http_req *req, json_t *j)
{
    if (!j)
        return NULL;
    struct req_ctx *ctx = req_ctx_of(req);
    struct kept_json *k = arena_alloc(req->arena, sizeof *k);
    k->j = j;
    k->next = ctx->kept;
    ctx->kept = k;
    return j;
}

/* 1 when the Content-Type's media type is application/json (parameters
 * such as charset allowed, case-insensitive). */
static int is_json_type(const char *ct)
{
    size_t n = strlen(JSON_TYPE);
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, JSON_TYPE, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int http_body_json(struct http_req *req, json_t **out, struct souk_errinfo *ei)
{
    json_error_t jerr;
    char msg[256];

    *out = NULL;
    if (req->body_len == 0) {
        *out = http_keep(req, json_object());
        return SOUK_OK;
    }
    if (!(req->route_flags & ROUTE_RAW_BODY) && !is_json_type(http_header(req, "Content-Type")))
        return souk_fail(ei, SOUK_UNSUPPORTED, "Content-Type must be application/json.");
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        snprintf(msg, sizeof msg, "JSON parse error: %s (line %d, column %d).", jerr.text,
                 jerr.line, jerr.column);
        souk_errinfo_field(ei, "non_field_errors", msg);
        return souk_fail(ei, SOUK_INVALID, "The request body is not valid JSON.");
    }
    *out = http_keep(req, j);
    return SOUK_OK;
}

/* ---- responders ------------------------------------------------------------ */

static void resp_body_drop(struct http_req *req)
{
    if (req->resp_body_malloced)
        free(req->resp_body);
    req->resp_body = NULL;
    req->resp_len = 0;
    req->resp_body_malloced = 0;
}

int http_json(struct http_req *req, int status, json_t *body)
{
    resp_body_drop(req);
    char *s = json_dumps(body ? body : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (!s) {
        /* Only on out-of-memory or a non-encodable value (NaN). */
        s = strdup("{\"code\":\"internal_error\"}");
        status = 500;
    }
    req->status = status;
    req->resp_type = "application/json; charset=utf-8";
    req->resp_body = s;
    req->resp_len = strlen(s);
    req->resp_body_malloced = 1;
    return 0;
}

int http_text(struct http_req *req, int status, const char *content_type, const char *body,
              size_t len)
{
    resp_body_drop(req);
    req->status = status;
    req->resp_type = arena_strdup(req->arena, content_type ? content_type : "text/plain");
    req->resp_body = arena_strndup(req->arena, body ? body : "", body ? len : 0);
    req->resp_len = body ? len : 0;
    return 0;
}

int http_no_content(struct http_req *req)
{
    resp_body_drop(req);
    req->status = 204;
    req->resp_type = NULL;
    return 0;
}

void http_set_header(struct http_req *req, const char *name, const char *value)
{
    int cap = (int)(sizeof req->resp_headers / sizeof req->resp_headers[0]);
    int i;
    for (i = 0; i < req->nresp_headers; i++)
        if (strcasecmp(req->resp_headers[i].key, name) == 0)
            break;
    if (i == cap)
        return;
    req->resp_headers[i].key = arena_strdup(req->arena, name);
    req->resp_headers[i].value = arena_strdup(req->arena, value ? value : "");
    if (i == req->nresp_headers)
        req->nresp_headers++;
}

const char *http_base_url(const struct http_req *req)
{
    const char *base = souk_cfg && souk_cfg->public_url[0] ? souk_cfg->public_url : NULL;
    if (!base) {
        const char *host = http_header(req, "Host");
        base = arena_sprintf(req->arena, "%s://%s", req->https ? "https" : "http",
                             host && *host ? host : "localhost");
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    return arena_strndup(req->arena, base, n);
}

int http_is_https(const struct http_req *req)
{
    if (souk_cfg && souk_cfg->public_url[0])
        return strncasecmp(souk_cfg->public_url, "https://", 8) == 0;
    return req->https;
}
