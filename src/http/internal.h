/* internal.h - what the files of src/http share and handlers do not see.
 *
 * A request lives in a struct req_ctx allocated from its own arena; the
 * public struct http_req is its first member, so request.c, problem.c and
 * sse.c get back to the context with req_ctx_of(). server.c owns the life
 * cycle (see the state machine there).
 */
#ifndef SOUK_HTTP_INTERNAL_H
#define SOUK_HTTP_INTERNAL_H

#include <stdint.h>
#include "http/http.h"

struct MHD_Connection;
struct multipart;
struct fiber;
struct route_entry;
struct router;
struct sse_stream;

struct kept_json {
    json_t *j;
    struct kept_json *next;
};

struct req_ctx {
    struct http_req req; /* first: (struct req_ctx *)req is valid */
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct req_ctx *qnext; /* worker queue */
    int state;             /* server.c: enum ctx_state */
    int counted;           /* counted in the server's in-flight total */
    int too_large;         /* body over max_body */
    int too_long;          /* URL over the limit */
    int over_limit;        /* connection past max_connections: 503, then close */
    int64_t t0_us;         /* monotonic, first byte of the request */
    char *raw_query;       /* undecoded query string (arena), or NULL */
    char *upload;          /* body being received (malloc'd) */
    size_t upload_len, upload_cap;
    size_t resp_bytes;     /* body bytes sent (SSE: streamed so far) */
    struct kept_json *kept;
    struct sse_stream *stream;
    struct multipart *mp;  /* multipart.c: a streamed multipart body, or NULL */
    struct fiber *fiber;   /* server.c: a ROUTE_PROVIDER handler's own stack */
    const struct route_entry *route; /* the route that fiber runs */
};

static inline struct req_ctx *req_ctx_of(const struct http_req *req)
{
    return (struct req_ctx *)(uintptr_t)req;
}

/* request.c ------------------------------------------------------------- */
/* New request with its own arena (server and tests). */
struct http_req *http_req_new(void);
/* Frees everything the request owns (kept JSON, malloc'd bodies, arena). */
void http_req_free(struct http_req *req);
/* Parses a raw query string ("a=1&b=%20x") into req->query (decoded;
 * '+' is a space; at most HTTP_MAX_QUERY pairs, the rest ignored). */
void http_parse_query(struct http_req *req, const char *qs);
/* Percent-decodes s[0..n) into the arena; '+' -> ' ' when plus is set. */
char *http_url_decode(struct arena *a, const char *s, size_t n, int plus);
/* Adds a request header (copied) unless HTTP_MAX_HEADERS are there. */
void http_req_add_header(struct http_req *req, const char *name, const char *value);

/* sse.c ----------------------------------------------------------------- */
/* The hub is process-wide and shared by every server: each server's start
 * calls sse_hub_start and its stop sse_hub_stop. The heartbeat thread runs
 * while at least one server does (the first one's period is used). 0 ok. */
int sse_hub_start(int heartbeat_seconds);
/* Ends the streams of server `owner` (each finishes its chunked response;
 * the server refuses new ones once http_server_is_stopping) and waits up to
 * timeout_ms for them to be gone; the last server out stops the heartbeat. */
void sse_hub_stop(const struct http_server *owner, int timeout_ms);
/* Makes the MHD response for a request that called http_sse_start
 * (MHD thread). Returns a struct MHD_Response * (void * here), or NULL. */
void *sse_response_create(struct req_ctx *ctx);
/* Request finished (NOTIFY_COMPLETED): drops the request's reference. */
void sse_request_done(struct req_ctx *ctx);

/* multipart.c ------------------------------------------------------------ */
/* First access-handler call (MHD thread): starts a streamed multipart body
 * when the route is ROUTE_MULTIPART and the Content-Type is
 * multipart/form-data. Returns the body limit for this request (dflt
 * otherwise). */
size_t multipart_begin(struct req_ctx *ctx, const struct router *r, size_t dflt);
/* Feeds body bytes: 1 when taken (a multipart body), 0 when the caller
 * should buffer them. Sets ctx->too_large past the limit. */
int multipart_feed(struct req_ctx *ctx, const char *data, size_t n);
/* The body is complete: closes the files. */
void multipart_end(struct req_ctx *ctx);
/* Request end: removes the temporary files still there. */
void multipart_free(struct req_ctx *ctx);

/* server.c -------------------------------------------------------------- */
/* 1 once http_server_stop has begun: for a handler (worker thread), on the
 * server running it; elsewhere, on any server of the process (/readyz). */
int http_server_stopping(void);
/* 1 once http_server_stop(s) has begun. Any thread. */
int http_server_is_stopping(const struct http_server *s);

#endif
