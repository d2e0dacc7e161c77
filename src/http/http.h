/* http.h - what handlers see of HTTP.
 *
 * The server (server.c) accepts connections with libmicrohttpd in epoll
 * mode, buffers the body (refusing oversize ones before buffering), then
 * suspends the connection and hands the request to a bounded worker pool.
 * A worker runs the middleware (request id, rate limit, auth hook) and the
 * route's handler, which fills the response through the functions below;
 * the connection is then resumed and the response queued.
 *
 * A handler returns 0 once it has set a response (every http_* responder
 * below returns 0, so `return http_json(...)` reads naturally).
 */
#ifndef SOUK_HTTP_H
#define SOUK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/arena.h"
#include "core/err.h"

struct db;
struct http_server;
struct router;

#define HTTP_MAX_PARAMS 8
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_QUERY 64

struct http_kv {
    const char *key;
    const char *value;
};

/* The authenticated caller, set by the auth hook (identity issue). */
struct auth_user {
    char id[37];
    int role;           /* enum auth_role in src/auth/ */
    char jti[64];       /* access token id */
    int64_t token_exp;  /* unix seconds */
    void *ext;          /* owned by the auth module, arena-allocated */
};

struct http_req {
    struct arena *arena;
    struct db *db;
    const char *method;     /* "GET", ... (HEAD is served as GET without a body) */
    const char *path;       /* decoded path, without the query string */
    const char *route;      /* template of the matched route, "-" when none */
    const char *request_id; /* X-Request-Id received (if sane) or generated */
    const char *client_ip;  /* client address as text: the peer, or behind a trusted proxy
                             * the address it forwarded (src/http/proxy.h) */
    const char *peer_ip;    /* the socket's peer address (the proxy, behind one) */
    int https;              /* a trusted proxy says the client used https */
    /* path parameters, in template order, already type-checked */
    const char *params[HTTP_MAX_PARAMS];
    int nparams;
    struct http_kv headers[HTTP_MAX_HEADERS]; /* names as received */
    int nheaders;
    struct http_kv query[HTTP_MAX_QUERY]; /* decoded; repeated keys kept */
    int nquery;
    const char *body;       /* NUL-terminated copy; body_len excludes the NUL */
    size_t body_len;
    struct auth_user *user; /* NULL when anonymous */
    int auth_err;           /* token present but refused: SOUK_TOKEN_INVALID etc. */
    unsigned route_flags;
    /* response, set by the responders */
    int status;
    const char *resp_type;
    char *resp_body; /* arena or malloc'd per resp_body_malloced */
    size_t resp_len;
    int resp_body_malloced;
    struct http_kv resp_headers[16];
    int nresp_headers;
    const char *err_code;   /* problem code, for metrics and the access log */
    void *sse;              /* set by http_sse_start */
};

typedef int (*http_handler)(struct http_req *req);

/* Route flags */
#define ROUTE_PRIVATE 0x01  /* Cache-Control: no-store (default for everything under /api/) */
#define ROUTE_PUBLIC 0x02   /* may be cached: opt out of no-store */
#define ROUTE_RAW_BODY 0x04 /* no JSON content-type check (webhooks, forms) */
#define ROUTE_NO_API 0x08   /* do not mirror under /api/v1/ (/healthz, /metrics) */
#define ROUTE_NO_RATELIMIT 0x10
#define ROUTE_AUTH 0x20     /* a user is required: 401 before the handler runs */
#define ROUTE_PROVIDER 0x800 /* may call the payment provider: runs on a fiber that parks
                               * while the call is in flight (core/fiber.h), so the worker
                               * thread serves other requests meanwhile */
#define ROUTE_PARKS ROUTE_PROVIDER /* may wait for another request's transaction (a hot-row
                                    * batch, db/batch.h): the same fiber, for the same reason */
#define ROUTE_MULTIPART 0x400 /* multipart/form-data streamed to temporary files (multipart.c),
                               * body limit http_multipart_config's, not SOUK_MAX_BODY_BYTES */

/* Registration (router.c). Templates: "/api/orders/{id}/cancel/" where
 * {name} matches one segment; a name of "id" or ending in "_id" must be a
 * UUID (else 404), anything else is any non-empty segment. A trailing slash
 * is optional when matching. A route under /api/ is also served under
 * /api/v1/. `summary` documents the route (it appears in the route list). */
void http_route(struct router *r, const char *method, const char *tmpl, http_handler fn,
                unsigned flags, const char *summary);

/* Iterates over registered routes (for the OpenAPI cross-check and docs). */
struct http_route_info {
    const char *method;
    const char *tmpl;
    const char *summary;
    unsigned flags;
};
int http_routes(const struct router *r, struct http_route_info *out, int max);

/* Request accessors */
const char *http_header(const struct http_req *req, const char *name); /* case-insensitive */
const char *http_query(const struct http_req *req, const char *key);   /* first value */
int http_query_all(const struct http_req *req, const char *key, const char **out, int max);
const char *http_param(const struct http_req *req, int i);
/* The pool for a read that may lag a little (lists, search, public details): a read
 * replica when one is configured and the caller has no write it has not replayed yet, else
 * req->db (db_read_pool). Never for a read that decides a write. */
struct db *http_read_db(struct http_req *req);
/* Parses the body as JSON: 415 unsupported_media_type when the request has a
 * body but is not application/json; 400 validation_error when it is not
 * JSON. An empty body parses as an empty object. The result is owned by the
 * request (freed with it). */
int http_body_json(struct http_req *req, json_t **out, struct souk_errinfo *ei);
/* Registers a json_t to be decref'd when the request ends. */
json_t *http_keep(struct http_req *req, json_t *j);

/* Responders: each returns 0. */
int http_json(struct http_req *req, int status, json_t *body); /* steals body */
int http_text(struct http_req *req, int status, const char *content_type, const char *body,
              size_t len); /* copies */
int http_no_content(struct http_req *req);
int http_problem(struct http_req *req, int err, struct souk_errinfo *ei); /* problem.c; cleans ei */
int http_problem_status(int err); /* the status http_problem would answer (HTML pages) */
void http_set_header(struct http_req *req, const char *name, const char *value); /* copies */

/* Base URL of the request for building absolute links (SOUK_PUBLIC_URL;
 * without it the Host header, https when a trusted proxy says so). */
const char *http_base_url(const struct http_req *req);
/* Whether the client's connection is https (for Secure cookies): the public
 * URL is https, or a trusted proxy forwarded X-Forwarded-Proto: https. */
int http_is_https(const struct http_req *req);

/* ---- Cursor pagination (pagination.c) ----------------------------------
 * Cursor = base64url of a small JSON object chosen by the list (for keyset
 * pagination: the last row's sort key and id, and a direction). Opaque to
 * clients; tampering yields 400 validation_error on `cursor`. */
struct page {
    int size;          /* page_size, capped at the max */
    json_t *cursor;    /* decoded cursor object or NULL on the first page */
    int backwards;     /* cursor asks for the page before ("d":"p") */
};
int page_parse(struct http_req *req, struct page *pg, struct souk_errinfo *ei);
/* Encodes a cursor object into a string (arena). */
char *page_cursor_encode(struct http_req *req, const json_t *cursor);
/* {"next": url|null, "previous": url|null, "results": results}: URLs are the
 * request's own URL with `cursor` replaced. Steals results. */
json_t *page_envelope(struct http_req *req, json_t *results, const char *next_cursor,
                      const char *prev_cursor);

/* Keyset pages over (sort key BIGINT, id), with db/keyset.h. The cursor is
 * {"k": <int64 sort key>, "id": "<uuid>", "d": "n"|"p"}. keyset_from_page
 * validates the cursor of a parsed page (asc: the display order);
 * keyset_envelope takes the rows in fetch order (stolen) with each row's sort
 * key and id, drops the extra row, restores display order and returns the
 * page envelope (new reference). */
struct keyset;
int keyset_from_page(const struct page *pg, int asc, struct keyset *ks,
                     struct souk_errinfo *ei);
json_t *keyset_envelope(struct http_req *req, const struct page *pg, const struct keyset *ks,
                        json_t *rows, const int64_t *keys, const char *const *ids);

/* ---- multipart/form-data (multipart.c) ------------------------------------
 * On a ROUTE_MULTIPART route a multipart/form-data body is parsed while it
 * arrives by libmicrohttpd's post processor: text fields are kept in memory
 * (small), each file part is streamed to its own temporary file (hashed as
 * it is written), so no upload is held in memory whole. The temporary files
 * are removed when the request ends unless a handler took them (renamed
 * them away). Any other Content-Type on such a route is buffered as usual. */
struct http_part {
    const char *name;     /* the part's field name */
    const char *filename; /* NULL for a text field */
    const char *value;    /* text field: its value, NUL-terminated */
    const char *path;     /* file: the temporary file with its bytes */
    size_t size;          /* bytes of the value or file */
    char sha256[65];      /* file: hex SHA-256 of its bytes */
};
/* Process-wide, before servers start: the directory for temporary files,
 * the per-file limit and the body limit of multipart routes. */
void http_multipart_config(const char *tmp_dir, size_t max_file, size_t max_body);
/* 1 when the request body came as multipart/form-data on a multipart route. */
int http_is_multipart(const struct http_req *req);
/* The parts in body order. SOUK_TOO_LARGE when a file was over the per-file
 * limit, SOUK_INVALID for a malformed body (detail says why). */
int http_multipart(const struct http_req *req, const struct http_part **parts, int *n,
                   struct souk_errinfo *ei);


/* ---- Server-sent events (sse.c) ------------------------------------------
 * A stream is a suspended connection fed by the in-process hub; it costs no
 * thread. http_sse_start turns the current request into a stream for
 * `channel` (a user id); messages published to that channel are written as
 * they come, and a comment line every heartbeat seconds keeps it alive.
 * `backlog` (may be NULL) is written first (Last-Event-ID replay). */
int http_sse_start(struct http_req *req, const char *channel, const char *backlog);
/* Delivers one event to every open stream of the channel on this node.
 * Thread-safe. Returns the number of streams it reached. */
int sse_publish(const char *channel, const char *id, const char *event, const char *data);
int sse_stream_count(void);

/* ---- Server ----------------------------------------------------------------
 * Several servers may run in one process (the payments sandbox has its own).
 * The auth hook is process-wide and set before any server starts; the SSE
 * hub is process-wide too (sse_publish reaches streams on every server). */
typedef int (*http_auth_hook)(struct http_req *req, const char *token);
void http_set_auth_hook(http_auth_hook fn); /* called for a Bearer header or ?token= */
/* Called for every authenticated POST, PUT, PATCH and DELETE after the auth
 * hook and before the handler; an error answers the request instead (the
 * moderation module refuses a banned user's writes). Process-wide, set
 * before any server starts. */
typedef int (*http_write_guard)(struct http_req *req, struct souk_errinfo *ei);
void http_set_write_guard(http_write_guard fn);

struct http_server_opts {
    const char *host;
    int port;               /* 0: any free port */
    int workers;
    size_t max_body;
    int max_connections;
    int shutdown_timeout;   /* seconds */
    int access_log;
    int sse_heartbeat;      /* seconds, default 15 */
    int rate_rps, rate_burst;
    struct db *db;
    /* 0 / NULL: the process configuration (souk_cfg) or the built-in default */
    const char *trusted_proxies; /* CIDR list (SOUK_TRUSTED_PROXIES) */
    int header_timeout, body_timeout, idle_timeout; /* seconds (guard.c) */
    int max_per_ip;         /* connections per untrusted address; -1: no cap */
    int no_auth_hook;       /* never call the auth hook: tokens are the handlers' business
                             * (req->user stays NULL, so ROUTE_AUTH routes answer 401) */
};
struct router *router_new(void);
void router_free(struct router *r);
struct http_server *http_server_start(const struct http_server_opts *o, struct router *r,
                                      struct souk_errinfo *ei);
int http_server_port(const struct http_server *s); /* the bound port */
/* Stops accepting, lets in-flight requests finish (up to the timeout),
 * closes streams, joins the workers. */
void http_server_stop(struct http_server *s);

#endif
