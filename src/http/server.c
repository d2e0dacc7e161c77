/* server.c - libmicrohttpd adapter, worker pool, middleware, access log.
 *
 * One MHD daemon in epoll mode with its own polling thread does all the
 * socket work. A request goes through these states (struct req_ctx):
 *
 *   ST_NEW    created by the URI-log callback (MHD thread) once the request
 *             line is in, raw query kept; from here the request is in flight
 *   ST_BODY   first access-handler call passed (method, path, Content-Length
 *             checked); body chunks are buffered, up to opts->max_body
 *   ST_WORK   final call: headers/query/ip copied into the http_req, the
 *             connection suspended and the request queued for a worker
 *   ST_READY  a worker ran middleware + handler, then resumed the
 *             connection; the next access-handler call queues the response
 *   ST_SENT   response queued; NOTIFY_COMPLETED logs, counts and frees
 *
 * Errors found on the MHD thread (413 before buffering, 503 while
 * stopping) are answered there directly ("inline"), through problem.c.
 *
 * Threads: the MHD thread, opts->workers workers, the SSE heartbeat, and
 * whoever calls http_server_stop. A request is owned by exactly one thread
 * at a time; the hand-offs are the queue (srv->mu) and MHD's suspend /
 * resume (MHD_resume_connection may be called from any thread: the daemon
 * has an inter-thread channel, implied by MHD_ALLOW_SUSPEND_RESUME).
 *
 * Graceful stop (http_server_stop): the listening socket stops accepting at
 * once (new connections are refused); every request already begun - from
 * its request line on, including one whose body is still arriving - is
 * served to the end and its response written, each with `Connection:
 * close`. The stop waits for that (srv->in_flight reaching 0) up to
 * opts->shutdown_timeout; idle keep-alive connections hold no request, do
 * not delay it and are closed with the daemon. After the timeout, queued
 * requests are answered 503, running handlers are still waited for, and the
 * responses made by then get SHUTDOWN_GRACE_MS to be written; what is left
 * (an upload that never ends, a client that does not read) is cut.
 *
 * Several servers may run in one process (the payments sandbox runs its
 * own on another port): everything about a server lives in its struct,
 * except the auth hook (one per process; a server opts out with
 * opts->no_auth_hook) and the SSE hub (process-wide, see sse.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/fiber.h"
#include "core/ratelimit.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "db/db.h"
#include "http/guard.h"
#include "http/internal.h"
#include "http/proxy.h"
#include "http/router.h"

#define HTTP_MAX_URL 8192
#define CONN_TIMEOUT_S 120
#define SHUTDOWN_GRACE_MS 1000 /* after the timeout, for responses already made */

enum ctx_state { ST_NEW, ST_BODY, ST_WORK, ST_READY, ST_SENT };

struct http_server {
    struct MHD_Daemon *d;
    struct router *router;
    struct http_server_opts o;
    MHD_socket listen_fd;
    pthread_t *threads;
    struct worker *workers;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* queue not empty, or quit */
    pthread_cond_t idle_cv; /* in_flight or working went down */
    struct req_ctx *qhead, *qtail;
    int in_flight; /* request line received .. completed (SSE: .. stream started) */
    int working;   /* queued .. resumed by a worker */
    int quit;      /* no more requests are queued; workers exit */
    int expired;   /* shutdown timeout passed: queued requests get 503 */
    atomic_int stopping; /* http_server_stop has begun */
    struct proxy_list proxies; /* trusted proxies, read-only after start */
    struct conn_guard *guard;  /* deadlines and connection caps (guard.c) */
};

/* A worker thread and the fibers it started (ROUTE_PROVIDER handlers): a
 * parked fiber is resumed by this worker only, when its waker has put its
 * request on `ready`. Guarded by srv->mu, except `parked` (this thread's). */
struct worker {
    struct http_server *srv;
    struct req_ctx *ready, *ready_tail;
    int parked; /* fibers started here and not finished */
};

static http_auth_hook auth_hook;     /* set before any start; read-only afterwards */
static atomic_int servers_stopping;  /* servers inside http_server_stop */
static _Thread_local struct http_server *worker_srv; /* a worker's own server */

void http_set_auth_hook(http_auth_hook fn)
{
    auth_hook = fn;
}

static http_write_guard write_guard; /* set before any start; read-only afterwards */

void http_set_write_guard(http_write_guard fn)
{
    write_guard = fn;
}

static int is_write(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") ||
           !strcmp(m, "DELETE");
}

int http_server_is_stopping(const struct http_server *s)
{
    return atomic_load(&s->stopping);
}

/* On a worker (handlers, /readyz): whether that worker's server is
 * stopping. Elsewhere: whether any server of the process is. */
int http_server_stopping(void)
{
    if (worker_srv)
        return http_server_is_stopping(worker_srv);
    return atomic_load(&servers_stopping) > 0;
}

/* ---- middleware (worker thread) ------------------------------------------ */

static int request_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void set_request_id(struct http_req *req)
{
    const char *id = http_header(req, "X-Request-Id");
    if (request_id_ok(id)) {
        req->request_id = id;
        return;
    }
    char *u = arena_alloc(req->arena, UUID_STR_LEN);
    uuid_v7(u);
    req->request_id = u;
}

/* The bearer token of the request (header first, then ?token=), or NULL. */
static const char *find_token(const struct http_req *req)
{
    const char *h = http_header(req, "Authorization");
    if (h && strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\0')) {
        h += 6;
        while (*h == ' ')
            h++;
        return h;
    }
    return http_query(req, "token");
}

/* Runs the auth hook (unless the server opted out: then the handler sees
 * the token itself and req->user stays NULL); returns the error to answer
 * when the token was refused. Runs before the rate limit, which counts an
 * authenticated caller per user. */
static int check_token(const struct http_server *s, struct http_req *req)
{
    const char *tok = s->o.no_auth_hook ? NULL : find_token(req);
    if (tok && auth_hook) {
        int rc = auth_hook(req, tok);
        if (!req->user)
            return rc ? rc : req->auth_err ? req->auth_err : SOUK_TOKEN_INVALID;
    }
    return SOUK_OK;
}

static int authenticate(int token_err, struct http_req *req)
{
    if (token_err)
        return token_err;
    if ((req->route_flags & ROUTE_AUTH) && !req->user)
        return SOUK_UNAUTHENTICATED;
    return SOUK_OK;
}

static int rate_limited(struct http_server *s, struct http_req *req, struct souk_errinfo *ei)
{
    int retry = 1;
    if (s->o.rate_rps <= 0 || (req->route_flags & ROUTE_NO_RATELIMIT))
        return 0;
    char key[96];
    if (req->user)
        snprintf(key, sizeof key, "user:%s", req->user->id);
    else
        snprintf(key, sizeof key, "ip:%s", req->client_ip);
    if (ratelimit_take(key, s->o.rate_rps, s->o.rate_burst, &retry) != SOUK_RATE_LIMITED)
        return 0;
    ei->retry_after = retry;
    return souk_fail(ei, SOUK_RATE_LIMITED, "Request was throttled.");
}

static void run_handler(const struct route_entry *route, struct http_req *req)
{
    int rc = route->fn(req);

    /* before the answer leaves: the writer's next read, on any node, knows its write */
    if (req->user && strcmp(req->method, "GET") && strcmp(req->method, "HEAD") &&
        strcmp(req->method, "OPTIONS"))
        db_note_write(req->db, req->user->id);
    if (req->status == 0) {
        struct souk_errinfo ei = {0};
        if (rc == 0)
            souk_fail(&ei, SOUK_INTERNAL, "handler %s %s set no response", route->method,
                      route->tmpl);
        http_problem(req, rc ? rc : SOUK_INTERNAL, &ei);
    }
}

/* Middleware and routing; the route whose handler is to run, or NULL when
 * the answer is already made (404, 401, 429, ...). */
static const struct route_entry *process(struct http_server *s, struct req_ctx *ctx)
{
    struct http_req *req = &ctx->req;
    struct router_match m;
    struct souk_errinfo ei = {0};
    int err, token_err = 0;

    set_request_id(req);
    enum router_result rr = router_match(s->router, req->method, req->path, req->arena, &m);
    if (rr == ROUTER_FOUND) {
        req->route = m.route->tmpl;
        req->route_flags = m.route->flags;
        memcpy(req->params, m.params, sizeof m.params);
        req->nparams = m.nparams;
        if (!s->expired)
            token_err = check_token(s, req);
    }
    if (s->expired) {
        http_problem(req, souk_fail(&ei, SOUK_UNAVAILABLE, "shutting down"), &ei);
    } else if ((err = rate_limited(s, req, &ei))) {
        http_problem(req, err, &ei);
    } else if (rr == ROUTER_NOT_FOUND) {
        http_problem(req, souk_fail(&ei, SOUK_NOT_FOUND, "Not found."), &ei);
    } else if (rr == ROUTER_METHOD) {
        http_set_header(req, "Allow", m.allow);
        if (strcmp(req->method, "OPTIONS") == 0)
            http_no_content(req);
        else
            http_problem(req, souk_fail(&ei, SOUK_METHOD, "Method \"%.16s\" not allowed.",
                                        req->method), &ei);
    } else if ((err = authenticate(token_err, req))) {
        if (err == SOUK_UNAUTHENTICATED)
            souk_fail(&ei, err, "Authentication credentials were not provided.");
        http_problem(req, err, &ei);
    } else if (write_guard && req->user && is_write(req->method) &&
               (err = write_guard(req, &ei))) {
        http_problem(req, err, &ei);
    } else {
        return m.route;
    }
    return NULL;
}

/* The response is made: hand the connection back to MHD. */
static void finish(struct http_server *s, struct req_ctx *ctx)
{
    struct MHD_Connection *conn = ctx->conn;

    ctx->state = ST_READY;
    MHD_resume_connection(conn); /* ctx belongs to the MHD thread now */
    pthread_mutex_lock(&s->mu);
    s->working--;
    pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
}

static void fiber_main(void *ud)
{
    struct req_ctx *ctx = ud;
    run_handler(ctx->route, &ctx->req);
}

/* Any thread (the provider loop): the parked fiber of this request may go
 * on; its worker resumes it. */
static void fiber_ready(struct fiber *f, void *ud)
{
    struct worker *w = ud;
    struct req_ctx *ctx = fiber_data(f);

    pthread_mutex_lock(&w->srv->mu);
    ctx->qnext = NULL;
    if (w->ready_tail)
        w->ready_tail->qnext = ctx;
    else
        w->ready = ctx;
    w->ready_tail = ctx;
    pthread_cond_broadcast(&w->srv->work_cv);
    pthread_mutex_unlock(&w->srv->mu);
}

static void run_fiber(struct worker *w, struct req_ctx *ctx)
{
    if (!fiber_resume(ctx->fiber))
        return; /* parked: fiber_ready brings it back */
    fiber_free(ctx->fiber);
    ctx->fiber = NULL;
    w->parked--;
    finish(w->srv, ctx);
}

/* A new request: middleware, then its handler on this thread, or in a
 * fiber of its own when the route may wait on the payment provider. */
static void run_request(struct worker *w, struct req_ctx *ctx)
{
    const struct route_entry *route = process(w->srv, ctx);

    if (route && (route->flags & ROUTE_PROVIDER) &&
        (ctx->fiber = fiber_new(fiber_main, ctx, fiber_ready, w))) {
        ctx->route = route;
        w->parked++;
        run_fiber(w, ctx);
        return;
    }
    if (route)
        run_handler(route, &ctx->req); /* no stack for a fiber: block, as before */
    finish(w->srv, ctx);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct http_server *s = w->srv;
    worker_srv = s;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!w->ready && !s->qhead && !(s->quit && w->parked == 0))
            pthread_cond_wait(&s->work_cv, &s->mu);
        struct req_ctx *ctx = w->ready;
        if (ctx) {
            w->ready = ctx->qnext;
            if (!w->ready)
                w->ready_tail = NULL;
            pthread_mutex_unlock(&s->mu);
            run_fiber(w, ctx);
            continue;
        }
        ctx = s->qhead;
        if (!ctx) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->qhead = ctx->qnext;
        if (!s->qhead)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_request(w, ctx);
    }
}

/* ---- responses (MHD thread) ---------------------------------------------- */

static void add_header(struct MHD_Response *r, const char *k, const char *v)
{
    if (!MHD_get_response_header(r, k))
        MHD_add_response_header(r, k, v); /* refuses CR/LF: the header is dropped */
}

static struct MHD_Response *build_response(struct req_ctx *ctx)
{
    struct http_req *req = &ctx->req;
    struct MHD_Response *r;

    if (ctx->stream)
        return sse_response_create(ctx);
    if (req->resp_body_malloced) {
        r = MHD_create_response_from_buffer(req->resp_len, req->resp_body, MHD_RESPMEM_MUST_FREE);
        if (r) {
            req->resp_body = NULL; /* MHD frees it */
            req->resp_body_malloced = 0;
        }
    } else {
        r = MHD_create_response_from_buffer(req->resp_len, req->resp_body ? req->resp_body : "",
                                            MHD_RESPMEM_MUST_COPY);
    }
    ctx->resp_bytes = req->resp_len;
    return r;
}

static void decorate(struct req_ctx *ctx, struct MHD_Response *r)
{
    struct http_req *req = &ctx->req;
    for (int i = 0; i < req->nresp_headers; i++)
        add_header(r, req->resp_headers[i].key, req->resp_headers[i].value);
    if (req->resp_type)
        add_header(r, "Content-Type", req->resp_type);
    add_header(r, "X-Request-Id", req->request_id);
    add_header(r, "X-Content-Type-Options", "nosniff");
    add_header(r, "X-Frame-Options", "DENY");
    add_header(r, "Referrer-Policy", "no-referrer");
    if (strncmp(req->path, "/api/", 5) == 0 && !(req->route_flags & ROUTE_PUBLIC))
        add_header(r, "Cache-Control", "no-store");
    if (http_server_is_stopping(ctx->srv) || ctx->over_limit)
        add_header(r, "Connection", "close"); /* MHD closes after sending */
}

static enum MHD_Result queue_response(struct req_ctx *ctx)
{
    struct MHD_Response *r = build_response(ctx);
    ctx->state = ST_SENT;
    if (!r)
        return MHD_NO; /* out of memory: MHD closes the connection */
    decorate(ctx, r);
    enum MHD_Result ok = MHD_queue_response(ctx->conn, (unsigned)ctx->req.status, r);
    MHD_destroy_response(r);
    if (ctx->stream && ctx->counted) {
        /* A stream is long-lived: it no longer counts as in flight. */
        struct http_server *s = ctx->srv;
        pthread_mutex_lock(&s->mu);
        s->in_flight--;
        ctx->counted = 0;
        pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
        metrics_gauge_add("souk_http_in_flight", NULL, -1);
    }
    return ok;
}

/* Answers an error on the MHD thread, without a worker. */
static enum MHD_Result answer_inline(struct req_ctx *ctx, int err, const char *detail)
{
    struct souk_errinfo ei = {0};
    set_request_id(&ctx->req);
    http_problem(&ctx->req, souk_fail(&ei, err, "%s", detail), &ei);
    ctx->state = ST_READY;
    return queue_response(ctx);
}

/* ---- request intake (MHD thread) ------------------------------------------ */

/* A request has begun: it counts as in flight until NOTIFY_COMPLETED (MHD
 * calls it for every context the URI-log callback returned), so a stop
 * waits for it even while its headers or body are still arriving. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct http_req *req = http_req_new();
    struct req_ctx *ctx = req_ctx_of(req);
    const char *q = strchr(uri, '?');
    ctx->srv = s;
    ctx->conn = conn;
    ctx->t0_us = clock_mono_us();
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    ctx->counted = 1;
    pthread_mutex_unlock(&s->mu);
    metrics_gauge_add("souk_http_in_flight", NULL, 1);
    ctx->over_limit = guard_phase(s->guard, conn, GUARD_HEADERS);
    if (strlen(uri) > HTTP_MAX_URL)
        ctx->too_long = 1; /* answered 400 at the first access-handler call */
    else if (q)
        ctx->raw_query = arena_strdup(req->arena, q + 1);
    return ctx;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                   const char *v)
{
    (void)kind;
    http_req_add_header(cls, k, v);
    return ((struct http_req *)cls)->nheaders < HTTP_MAX_HEADERS ? MHD_YES : MHD_NO;
}

static void copy_client_ip(struct req_ctx *ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(ctx->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char buf[INET6_ADDRSTRLEN] = "-", norm[PROXY_IP_LEN];
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                      sizeof buf);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                      sizeof buf);
    }
    if (proxy_ip_normalize(buf, strlen(buf), norm) == 0)
        snprintf(buf, sizeof buf, "%s", norm); /* ::ffff:a.b.c.d is a.b.c.d */
    proxy_apply(&ctx->srv->proxies, &ctx->req, buf);
}

/* First call: method and path known, headers parsed, no body read yet. */
static enum MHD_Result on_start(struct req_ctx *ctx, const char *url, const char *method)
{
    struct http_req *req = &ctx->req;
    req->method = arena_strdup(req->arena, method);
    req->path = arena_strdup(req->arena, url);
    ctx->state = ST_BODY;
    MHD_get_connection_values(ctx->conn, MHD_HEADER_KIND, copy_header, req);
    http_parse_query(req, ctx->raw_query);
    copy_client_ip(ctx);
    req->db = ctx->srv->o.db;
    guard_phase(ctx->srv->guard, ctx->conn, GUARD_BODY);
    if (ctx->over_limit)
        return answer_inline(ctx, SOUK_UNAVAILABLE, "The server is at its connection limit.");
    if (ctx->too_long)
        return answer_inline(ctx, SOUK_INVALID, "The URL is too long.");
    size_t max = multipart_begin(ctx, ctx->srv->router, ctx->srv->o.max_body);
    const char *cl = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > max)
        return answer_inline(ctx, SOUK_TOO_LARGE, "The request body is too large.");
    return MHD_YES;
}

static void take_chunk(struct req_ctx *ctx, const char *data, size_t n)
{
    size_t max = ctx->srv->o.max_body;
    if (ctx->too_large)
        return;
    if (n > max - ctx->upload_len || ctx->upload_len + n > max) {
        ctx->too_large = 1; /* keep reading (and dropping) to answer 413 */
        free(ctx->upload);
        ctx->upload = NULL;
        ctx->upload_len = ctx->upload_cap = 0;
        return;
    }
    if (ctx->upload_len + n + 1 > ctx->upload_cap) {
        size_t cap = ctx->upload_cap ? ctx->upload_cap : 4096;
        while (cap < ctx->upload_len + n + 1)
            cap *= 2;
        ctx->upload = xrealloc(ctx->upload, cap);
        ctx->upload_cap = cap;
    }
    memcpy(ctx->upload + ctx->upload_len, data, n);
    ctx->upload_len += n;
    ctx->upload[ctx->upload_len] = '\0';
}

/* Final call: the whole request is here. Queue it for a worker. */
static enum MHD_Result on_complete_request(struct req_ctx *ctx)
{
    struct http_server *s = ctx->srv;
    struct http_req *req = &ctx->req;

    guard_phase(s->guard, ctx->conn, GUARD_WORK);
    if (ctx->too_large)
        return answer_inline(ctx, SOUK_TOO_LARGE, "The request body is too large.");
    if (ctx->upload) {
        req->body = ctx->upload;
        req->body_len = ctx->upload_len;
    }
    pthread_mutex_lock(&s->mu);
    if (s->quit) {
        pthread_mutex_unlock(&s->mu);
        return answer_inline(ctx, SOUK_UNAVAILABLE, "shutting down");
    }
    ctx->state = ST_WORK;
    MHD_suspend_connection(ctx->conn); /* before a worker can resume it */
    if (s->qtail)
        s->qtail->qnext = ctx;
    else
        s->qhead = ctx;
    s->qtail = ctx;
    s->working++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct req_ctx *ctx = *con_cls;
    (void)cls;
    (void)conn;
    (void)version;
    if (!ctx)
        return MHD_NO;
    switch (ctx->state) {
    case ST_NEW:
        return on_start(ctx, url, method);
    case ST_BODY:
        if (*upload_data_size) {
            if (!multipart_feed(ctx, upload_data, *upload_data_size))
                take_chunk(ctx, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        multipart_end(ctx);
        return on_complete_request(ctx);
    case ST_READY:
        return queue_response(ctx);
    default: /* ST_SENT: a body after an early answer is discarded */
        *upload_data_size = 0;
        return MHD_YES;
    }
}

/* ---- completion: access log and metrics ----------------------------------- */

static const char *method_label(const char *m)
{
    static const char *known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "OTHER";
}

/* A JSON string of s; bytes that are not valid UTF-8 are written %XX. */
static json_t *json_str_lossy(struct arena *a, const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *out = arena_alloc(a, 3 * n + 1), *o = out;
    for (; *s; s++) {
        if ((unsigned char)*s < 0x80)
            *o++ = *s;
        else
            o += sprintf(o, "%%%02X", (unsigned char)*s);
    }
    *o = '\0';
    return json_string(out);
}

static void account(struct http_server *s, struct req_ctx *ctx)
{
    const struct http_req *req = &ctx->req;
    double secs = (double)(clock_mono_us() - ctx->t0_us) / 1e6;
    char labels[320], status[8];

    snprintf(status, sizeof status, "%d", req->status);
    metrics_labels(labels, sizeof labels, "route", req->route, "method", method_label(req->method),
                   "status", status, METRICS_END);
    metrics_counter_add("souk_http_requests_total", labels, 1);
    if (!ctx->stream) {
        metrics_labels(labels, sizeof labels, "route", req->route, METRICS_END);
        metrics_observe("souk_http_request_duration_seconds", labels, secs);
    }
    if (req->err_code) {
        metrics_labels(labels, sizeof labels, "code", req->err_code, METRICS_END);
        metrics_counter_add("souk_http_errors_total", labels, 1);
    }
    if (!s->o.access_log)
        return;
    json_t *f = json_pack("{s:s, s:s, s:s, s:o, s:i, s:f, s:o, s:I, s:s}", "id", req->request_id,
                          "method", method_label(req->method), "route", req->route, "path",
                          json_str_lossy(req->arena, req->path), "status", req->status,
                          "duration_ms", round(secs * 1e6) / 1e3, "user",
                          req->user ? json_string(req->user->id) : json_null(), "bytes",
                          (json_int_t)ctx->resp_bytes, "ip", req->client_ip);
    if (f && req->err_code)
        json_object_set_new(f, "code", json_string(req->err_code));
    if (f && req->peer_ip != req->client_ip)
        json_object_set_new(f, "peer", json_string(req->peer_ip));
    log_json(LOG_INFO, "request", f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct req_ctx *ctx = *con_cls;
    (void)toe;
    if (!ctx)
        return;
    *con_cls = NULL;
    guard_phase(s->guard, conn, GUARD_IDLE);
    if (ctx->stream)
        sse_request_done(ctx);
    if (ctx->state >= ST_READY)
        account(s, ctx);
    if (ctx->counted) {
        pthread_mutex_lock(&s->mu);
        s->in_flight--;
        pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
        metrics_gauge_add("souk_http_in_flight", NULL, -1);
    }
    http_req_free(&ctx->req);
}

/* ---- start / stop ------------------------------------------------------------ */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    (void)cls;
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    /* A client hanging up (SSE streams end that way) is routine. */
    int routine = strstr(buf, "no longer available") || strstr(buf, "reset by") ||
                  strstr(buf, "closed by") || strstr(buf, "Broken pipe");
    log_msg(routine ? LOG_DEBUG : LOG_WARN, "microhttpd: %s", buf);
}

/* Streams hold a socket each: make sure max_connections fit. */
static void raise_nofile(int max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        log_warn("http: cannot raise RLIMIT_NOFILE: %s", strerror(errno));
}

static int resolve(const struct http_server_opts *o, struct sockaddr_storage *ss,
                   struct souk_errinfo *ei)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    int rc = getaddrinfo(o->host && *o->host ? o->host : "127.0.0.1", port, &hints, &res);
    if (rc != 0 || !res)
        return souk_fail(ei, SOUK_INVALID, "listen address %s: %s", o->host ? o->host : "",
                         gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return SOUK_OK;
}

static struct MHD_Daemon *daemon_start(struct http_server *s, struct sockaddr_storage *ss)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, (uint16_t)s->o.port, guard_accept, s->guard, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ss,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, guard_notify, s->guard,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->o.max_connections + GUARD_HEADROOM),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
}

/* The guard's settings: the opts, else the process configuration, else
 * the defaults documented in README.md. */
static void opts_guard_defaults(struct http_server_opts *o)
{
    const struct souk_config *c = souk_cfg;
    if (!o->trusted_proxies && c)
        o->trusted_proxies = c->trusted_proxies;
    if (o->header_timeout <= 0)
        o->header_timeout = c && c->header_timeout > 0 ? c->header_timeout : 10;
    if (o->body_timeout <= 0)
        o->body_timeout = c && c->body_timeout > 0 ? c->body_timeout : 60;
    if (o->idle_timeout <= 0)
        o->idle_timeout = c && c->idle_timeout > 0 ? c->idle_timeout : 60;
    if (o->max_per_ip == 0)
        o->max_per_ip = c ? c->max_connections_per_ip : 256;
    if (o->max_per_ip < 0)
        o->max_per_ip = 0;
}

static struct conn_guard *server_guard(struct http_server *s)
{
    struct guard_opts g = {.max_connections = s->o.max_connections,
                           .per_ip = s->o.max_per_ip,
                           .header_timeout = s->o.header_timeout,
                           .body_timeout = s->o.body_timeout,
                           .idle_timeout = s->o.idle_timeout,
                           .trusted = &s->proxies};
    return guard_new(&g);
}

static void opts_defaults(struct http_server_opts *o)
{
    if (o->workers <= 0)
        o->workers = 4;
    if (o->max_body == 0)
        o->max_body = 1024 * 1024;
    if (o->max_connections <= 0)
        o->max_connections = 4096;
    if (o->shutdown_timeout <= 0)
        o->shutdown_timeout = 20;
    if (o->sse_heartbeat <= 0)
        o->sse_heartbeat = 15;
    opts_guard_defaults(o);
}

static void describe_metrics(void)
{
    metrics_describe("souk_http_requests_total", "HTTP requests by route, method and status.");
    metrics_describe("souk_http_request_duration_seconds", "HTTP request latency by route.");
    metrics_describe("souk_http_in_flight", "HTTP requests being processed.");
    metrics_describe("souk_http_errors_total", "Problem responses by code.");
    metrics_gauge_set("souk_http_in_flight", NULL, 0);
}

static void server_free(struct http_server *s)
{
    guard_free(s->guard);
    proxy_list_free(&s->proxies);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->idle_cv);
    free(s->threads);
    free(s->workers);
    free(s);
}

static void workers_join(struct http_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
}

struct http_server *http_server_start(const struct http_server_opts *o, struct router *r,
                                      struct souk_errinfo *ei)
{
    struct sockaddr_storage ss = {0};
    struct http_server *s = xcalloc(1, sizeof *s);
    s->o = *o;
    opts_defaults(&s->o);
    s->router = r;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    char perr[160];
    if (proxy_list_parse(s->o.trusted_proxies, &s->proxies, perr, sizeof perr)) {
        souk_fail(ei, SOUK_INVALID, "%s", perr);
        server_free(s);
        return NULL;
    }
    if (resolve(&s->o, &ss, ei)) {
        server_free(s);
        return NULL;
    }
    s->guard = server_guard(s);
    raise_nofile(s->o.max_connections + GUARD_HEADROOM);
    describe_metrics();
    s->threads = xcalloc((size_t)s->o.workers, sizeof *s->threads);
    s->workers = xcalloc((size_t)s->o.workers, sizeof *s->workers);
    for (; s->nthreads < s->o.workers; s->nthreads++) {
        s->workers[s->nthreads].srv = s;
        if (pthread_create(&s->threads[s->nthreads], NULL, worker_main,
                           &s->workers[s->nthreads]) != 0)
            break;
    }
    int hub = s->nthreads > 0 && sse_hub_start(s->o.sse_heartbeat) == 0;
    if (!hub || !(s->d = daemon_start(s, &ss))) {
        souk_fail(ei, SOUK_INTERNAL, "the HTTP daemon did not start (%s)", strerror(errno));
        if (hub)
            sse_hub_stop(s, 0);
        workers_join(s);
        server_free(s);
        return NULL;
    }
    s->listen_fd = MHD_INVALID_SOCKET;
    log_info("http: listening on %s:%d (%d workers)", s->o.host ? s->o.host : "",
             http_server_port(s), s->nthreads);
    return s;
}

int http_server_port(const struct http_server *s)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

/* Waits until *counter is 0 or the deadline (0: none) passes. Locked. */
static int wait_zero(struct http_server *s, const int *counter, int64_t deadline_us)
{
    while (*counter > 0) {
        int64_t now = clock_now_us();
        if (deadline_us && now >= deadline_us)
            return -1;
        int64_t until = deadline_us ? deadline_us : now + 5000000;
        struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
        if (pthread_cond_timedwait(&s->idle_cv, &s->mu, &ts) == ETIMEDOUT && !deadline_us)
            log_warn("http: shutdown waits for %d running handler(s)", *counter);
    }
    return 0;
}

/* No new connections: MHD stops polling the listening socket, and shutting
 * it down makes the kernel refuse new ones at once (and reset those still in
 * the backlog) instead of letting them wait for the drain. The descriptor
 * stays open until the daemon has stopped, as MHD_quiesce_daemon requires. */
static void stop_listening(struct http_server *s)
{
    s->listen_fd = MHD_quiesce_daemon(s->d);
    if (s->listen_fd != MHD_INVALID_SOCKET)
        shutdown(s->listen_fd, SHUT_RDWR);
}

/* Waits for the requests in flight (see the header comment). On return no
 * handler runs and nothing more is queued. */
static void drain(struct http_server *s, int64_t deadline_us)
{
    pthread_mutex_lock(&s->mu);
    if (wait_zero(s, &s->in_flight, deadline_us) < 0) {
        log_warn("http: shutdown timeout: %d request(s) in flight", s->in_flight);
        s->expired = 1;                 /* queued requests: 503 */
        wait_zero(s, &s->working, 0);   /* never drop a response being produced */
        s->quit = 1;                    /* bodies completing now: 503 on the MHD thread */
        if (wait_zero(s, &s->in_flight, clock_now_us() + SHUTDOWN_GRACE_MS * 1000) < 0)
            log_warn("http: closing %d unfinished request(s)", s->in_flight);
    }
    s->quit = 1;
    pthread_mutex_unlock(&s->mu);
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    atomic_fetch_add(&servers_stopping, 1);
    int64_t deadline = clock_now_us() + (int64_t)s->o.shutdown_timeout * 1000000;
    stop_listening(s);
    sse_hub_stop(s, 2000); /* this server's streams end; they are not in flight */
    drain(s, deadline);
    workers_join(s);
    MHD_stop_daemon(s->d); /* closes idle keep-alive connections */
    if (s->listen_fd != MHD_INVALID_SOCKET)
        close(s->listen_fd);
    server_free(s);
    atomic_fetch_sub(&servers_stopping, 1);
    log_info("http: stopped");
}
