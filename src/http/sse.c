/* sse.c - server-sent event streams and the in-process hub.
 *
 * A stream is an MHD response whose content-reader callback drains a
 * per-stream byte buffer. When the buffer is empty the reader suspends
 * the connection (from inside the callback, as MHD documents) and returns
 * 0, so an idle stream costs no thread and no CPU. sse_publish and the
 * heartbeat append to the buffer and resume the connection; MHD then calls
 * the reader again. A client that went away is noticed on the next write
 * (at the latest the next heartbeat): MHD closes the connection, and the
 * request-completed and response-free callbacks drop the stream.
 *
 * Life of a stream: created by http_sse_start (worker) with two
 * references, the request's (dropped in sse_request_done, MHD thread, when
 * the request completes; the stream also leaves the hub then) and the
 * response's (taken in sse_response_create, dropped when MHD destroys the
 * response). A request that never got its response just drops both.
 *
 * One hub serves every server of the process (a channel is a user id, and
 * sse_publish reaches that user's streams whichever server holds them);
 * each stream remembers its server so that a server's stop ends only its
 * own streams. The heartbeat thread is shared, counted by hub.users.
 *
 * Locking: hub.mu guards the hub table, counts and every refs field;
 * stream->mu guards the buffer and the suspended/closing flags. Order:
 * hub.mu, then stream->mu. MHD_resume_connection is called with no lock
 * of ours held; MHD_suspend_connection under stream->mu (the publisher that
 * sees `suspended` set is the only one that resumes, so the connection
 * stays suspended - hence alive - until that call).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/internal.h"

#define NBUCKETS 256
#define SSE_MAX_PENDING (256 * 1024) /* a client this far behind is dropped */
#define SSE_BLOCK 4096

struct sse_stream {
    pthread_mutex_t mu;
    char *buf;
    size_t off, len, cap; /* pending bytes are buf[off..len) */
    int suspended;        /* the reader suspended the connection */
    int closing;          /* end the response once drained */
    int refs;             /* hub.mu */
    int in_hub;           /* hub.mu */
    size_t sent;
    const struct http_server *owner; /* the server of the connection */
    struct MHD_Connection *conn;
    char *channel;
    struct sse_stream *prev, *next; /* hub bucket list */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* heartbeat tick / stop; stream count went down */
    struct sse_stream *buckets[NBUCKETS];
    int count;
    int users;   /* servers started and not yet stopped */
    unsigned hb_gen; /* a heartbeat thread runs while this is its generation */
    int hb_started;
    int heartbeat_s;
    pthread_t hb;
} hub = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static unsigned bucket_of(const char *ch)
{
    unsigned h = 5381;
    for (; *ch; ch++)
        h = h * 33 + (unsigned char)*ch;
    return h % NBUCKETS;
}

/* ---- stream buffer --------------------------------------------------------- */

/* Appends under st->mu; returns the connection to resume, if any. */
static struct MHD_Connection *stream_append(struct sse_stream *st, const char *data, size_t n,
                                            int close_after)
{
    struct MHD_Connection *wake = NULL;
    pthread_mutex_lock(&st->mu);
    if (!st->closing && n) {
        if (st->len - st->off + n > SSE_MAX_PENDING) {
            st->closing = 1; /* slow consumer: end it; it reconnects with Last-Event-ID */
        } else {
            if (st->off && st->len + n > st->cap) {
                memmove(st->buf, st->buf + st->off, st->len - st->off);
                st->len -= st->off;
                st->off = 0;
            }
            if (st->len + n > st->cap) {
                while (st->cap < st->len + n)
                    st->cap = st->cap ? st->cap * 2 : 1024;
                st->buf = xrealloc(st->buf, st->cap);
            }
            memcpy(st->buf + st->len, data, n);
            st->len += n;
        }
    }
    if (close_after)
        st->closing = 1;
    if (st->suspended) {
        st->suspended = 0;
        wake = st->conn;
    }
    pthread_mutex_unlock(&st->mu);
    return wake;
}

static void stream_free(struct sse_stream *st)
{
    pthread_mutex_destroy(&st->mu);
    free(st->buf);
    free(st->channel);
    free(st);
}

/* Drops one reference; frees at zero. Called with hub.mu held. */
static void stream_unref_locked(struct sse_stream *st)
{
    if (--st->refs == 0)
        stream_free(st);
}

static void hub_remove_locked(struct sse_stream *st)
{
    if (!st->in_hub)
        return;
    if (st->prev)
        st->prev->next = st->next;
    else
        hub.buckets[bucket_of(st->channel)] = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->in_hub = 0;
    hub.count--;
    metrics_gauge_set("souk_sse_streams", NULL, hub.count);
    pthread_cond_broadcast(&hub.cv);
}

/* ---- MHD callbacks ------------------------------------------------------------ */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_stream *st = cls;
    (void)pos;
    pthread_mutex_lock(&st->mu);
    if (st->len > st->off) {
        size_t n = st->len - st->off < max ? st->len - st->off : max;
        memcpy(buf, st->buf + st->off, n);
        st->off += n;
        if (st->off == st->len)
            st->off = st->len = 0;
        st->sent += n;
        pthread_mutex_unlock(&st->mu);
        return (ssize_t)n;
    }
    if (st->closing) {
        pthread_mutex_unlock(&st->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    st->suspended = 1;
    MHD_suspend_connection(st->conn); /* resumed by publish/heartbeat/stop */
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static void stream_response_freed(void *cls)
{
    pthread_mutex_lock(&hub.mu);
    stream_unref_locked(cls);
    pthread_mutex_unlock(&hub.mu);
}

void *sse_response_create(struct req_ctx *ctx)
{
    struct sse_stream *st = ctx->stream;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK,
                                                               stream_read, st,
                                                               stream_response_freed);
    if (!r)
        return NULL;
    pthread_mutex_lock(&hub.mu);
    st->refs++;
    pthread_mutex_unlock(&hub.mu);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return r;
}

void sse_request_done(struct req_ctx *ctx)
{
    struct sse_stream *st = ctx->stream;
    ctx->stream = NULL;
    ctx->req.sse = NULL;
    pthread_mutex_lock(&hub.mu);
    hub_remove_locked(st);
    ctx->resp_bytes = st->sent; /* no reader runs any more: safe to read */
    stream_unref_locked(st);
    pthread_mutex_unlock(&hub.mu);
}

/* ---- handler side ----------------------------------------------------------------- */

int http_sse_start(struct http_req *req, const char *channel, const char *backlog)
{
    struct req_ctx *ctx = req_ctx_of(req);
    struct souk_errinfo ei = {0};
    if (ctx->stream)
        return 0;
    if (!ctx->conn || !channel)
        return http_problem(req, souk_fail(&ei, SOUK_INTERNAL, "SSE outside a server"), &ei);
    struct sse_stream *st = xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    st->conn = ctx->conn;
    st->owner = ctx->srv;
    st->channel = xstrdup(channel);
    st->refs = 1;
    stream_append(st, ": stream\n\n", 10, 0); /* headers go out at once */
    if (backlog)
        stream_append(st, backlog, strlen(backlog), 0);
    pthread_mutex_lock(&hub.mu);
    /* Checked under hub.mu: a stop sets the flag before it walks the hub
     * (under hub.mu), so the stream is either refused or seen there. */
    if (hub.users == 0 || http_server_is_stopping(ctx->srv)) {
        pthread_mutex_unlock(&hub.mu);
        stream_free(st);
        return http_problem(req, souk_fail(&ei, SOUK_UNAVAILABLE, "shutting down"), &ei);
    }
    unsigned b = bucket_of(channel);
    st->next = hub.buckets[b];
    if (st->next)
        st->next->prev = st;
    hub.buckets[b] = st;
    st->in_hub = 1;
    hub.count++;
    metrics_gauge_set("souk_sse_streams", NULL, hub.count);
    pthread_mutex_unlock(&hub.mu);
    ctx->stream = st;
    req->sse = st;
    req->status = 200;
    req->resp_type = "text/event-stream";
    return 0;
}

/* Appends `n` bytes to every stream of channel (all streams when channel
 * is NULL) held by owner (any server when NULL); resumes the suspended
 * ones. Returns the number reached. */
static int hub_broadcast(const struct http_server *owner, const char *channel, const char *msg,
                         size_t n, int close_after)
{
    struct MHD_Connection **wake = NULL;
    int nwake = 0, reached = 0;

    pthread_mutex_lock(&hub.mu);
    if (hub.count > 0)
        wake = xmalloc((size_t)hub.count * sizeof *wake);
    for (unsigned b = channel ? bucket_of(channel) : 0; b < NBUCKETS; b++) {
        for (struct sse_stream *st = hub.buckets[b]; st; st = st->next) {
            if ((channel && strcmp(st->channel, channel) != 0) || (owner && st->owner != owner))
                continue;
            struct MHD_Connection *c = stream_append(st, msg, n, close_after);
            if (c)
                wake[nwake++] = c;
            reached++;
        }
        if (channel)
            break;
    }
    pthread_mutex_unlock(&hub.mu);
    for (int i = 0; i < nwake; i++)
        MHD_resume_connection(wake[i]);
    free(wake);
    return reached;
}

/* Writes `field: value` lines, one per line of value (SSE framing). */
static void put_field(char **o, const char *field, const char *v, int multiline)
{
    do {
        size_t len = multiline ? strcspn(v, "\n") : strlen(v);
        *o += sprintf(*o, "%s: ", field);
        for (size_t i = 0; i < len; i++)
            if (v[i] != '\r' && v[i] != '\n')
                *(*o)++ = v[i];
        *(*o)++ = '\n';
        v += len;
    } while (multiline && *v++ == '\n');
}

int sse_publish(const char *channel, const char *id, const char *event, const char *data)
{
    if (!channel)
        return 0;
    size_t n = (id ? strlen(id) : 0) + (event ? strlen(event) : 0) + (data ? strlen(data) : 0);
    size_t lines = 3;
    for (const char *p = data; p && *p; p++)
        lines += *p == '\n';
    char *msg = xmalloc(n + lines * 8 + 16), *o = msg;
    if (id)
        put_field(&o, "id", id, 0);
    if (event)
        put_field(&o, "event", event, 0);
    put_field(&o, "data", data ? data : "", 1);
    *o++ = '\n';
    int reached = hub_broadcast(NULL, channel, msg, (size_t)(o - msg), 0);
    free(msg);
    return reached;
}

int sse_stream_count(void)
{
    pthread_mutex_lock(&hub.mu);
    int n = hub.count;
    pthread_mutex_unlock(&hub.mu);
    return n;
}

/* ---- heartbeat and life cycle --------------------------------------------------- */

/* arg: the generation the thread belongs to. A stop bumps hub.hb_gen, so a
 * thread that wakes late never runs beside a newer one. */
static void *heartbeat_main(void *arg)
{
    unsigned gen = (unsigned)(uintptr_t)arg;
    pthread_mutex_lock(&hub.mu);
    while (hub.hb_gen == gen) {
        int64_t until = clock_now_us() + (int64_t)hub.heartbeat_s * 1000000;
        struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
        while (hub.hb_gen == gen && pthread_cond_timedwait(&hub.cv, &hub.mu, &ts) != ETIMEDOUT)
            ;
        if (hub.hb_gen != gen)
            break;
        pthread_mutex_unlock(&hub.mu);
        hub_broadcast(NULL, NULL, ": keep-alive\n\n", 14, 0);
        pthread_mutex_lock(&hub.mu);
    }
    pthread_mutex_unlock(&hub.mu);
    return NULL;
}

int sse_hub_start(int heartbeat_seconds)
{
    int rc = 0;
    pthread_mutex_lock(&hub.mu);
    if (hub.users == 0) {
        hub.heartbeat_s = heartbeat_seconds > 0 ? heartbeat_seconds : 15;
        rc = pthread_create(&hub.hb, NULL, heartbeat_main, (void *)(uintptr_t)hub.hb_gen);
        hub.hb_started = rc == 0;
        metrics_describe("souk_sse_streams", "Open server-sent event streams.");
        metrics_gauge_set("souk_sse_streams", NULL, hub.count);
    }
    if (rc == 0)
        hub.users++;
    pthread_mutex_unlock(&hub.mu);
    return rc ? -1 : 0;
}

static int owner_count_locked(const struct http_server *owner)
{
    int n = 0;
    for (unsigned b = 0; b < NBUCKETS; b++)
        for (const struct sse_stream *st = hub.buckets[b]; st; st = st->next)
            n += st->owner == owner;
    return n;
}

/* The last server out stops the heartbeat thread (joined outside hub.mu,
 * which it needs to notice; a server starting meanwhile makes a new one). */
static void hub_release(void)
{
    pthread_t hb;
    pthread_mutex_lock(&hub.mu);
    int join = --hub.users == 0 && hub.hb_started;
    if (join) {
        hb = hub.hb;
        hub.hb_gen++;
        hub.hb_started = 0;
        pthread_cond_broadcast(&hub.cv);
    }
    pthread_mutex_unlock(&hub.mu);
    if (join)
        pthread_join(hb, NULL);
}

void sse_hub_stop(const struct http_server *owner, int timeout_ms)
{
    hub_broadcast(owner, NULL, "", 0, 1); /* each stream ends once drained */

    int64_t until = clock_now_us() + (int64_t)timeout_ms * 1000;
    struct timespec ts = {(time_t)(until / 1000000), (long)(until % 1000000) * 1000};
    pthread_mutex_lock(&hub.mu);
    while (owner_count_locked(owner) > 0 &&
           pthread_cond_timedwait(&hub.cv, &hub.mu, &ts) != ETIMEDOUT)
        ;
    int left = owner_count_locked(owner);
    if (left > 0)
        log_warn("sse: %d stream(s) still open at shutdown", left);
    pthread_mutex_unlock(&hub.mu);
    hub_release();
}
