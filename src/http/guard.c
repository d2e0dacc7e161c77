/* guard.c - keeps a node answerable when clients hold sockets open: read
 * deadlines, a per-address connection cap and a 503 beyond
 * SOUK_MAX_CONNECTIONS (contract: issue 17, "a node that cannot be
 * starved").
 *
 * Every connection gets a record (MHD_OPTION_NOTIFY_CONNECTION, kept as the
 * MHD socket context) with a phase and a deadline:
 *   fresh    accepted, nothing parsed: the headers are due header_timeout
 *            after the accept
 *   headers  request line in (keep-alive: header_timeout from then)
 *   body     headers in: the whole body is due body_timeout later
 *   work     queued for or run by a worker, response being sent: none
 *   idle     keep-alive between requests: idle_timeout
 * A sweeper thread walks the records twice a second and shuts the socket of
 * every one past its deadline; MHD then sees the end of the stream on its
 * next read and closes the connection as usual (the record goes with the
 * CLOSED notification, before MHD closes the descriptor, so a descriptor
 * is never shut after reuse).
 *
 * The accept policy refuses a connection from an address that already holds
 * per_ip connections, unless the address is a trusted proxy (nginx holds
 * many: cap clients there, see deploy/nginx.conf). Connections past
 * max_connections are accepted (MHD's own limit sits GUARD_HEADROOM above)
 * and their first request is answered 503 with Connection: close.
 *
 * Threads: the MHD thread (callbacks, phase changes) and the sweeper share
 * the records, the address table and the counters under g->mu.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <microhttpd.h>

#include "core/str.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/guard.h"

#define ADDR_BUCKETS 1024
#define SWEEP_MS 500
#define OVER_GRACE_US 2000000 /* an over-limit connection must ask at once */

struct gconn {
    struct gconn *prev, *next;
    int fd;
    int phase;
    int over;     /* past max_connections: its first request gets 503 */
    int shut;
    int64_t deadline_us; /* 0: none */
    struct addr_count *ac;
};

struct addr_count {
    struct addr_count *next;
    int n;
    char ip[PROXY_IP_LEN];
};

struct conn_guard {
    struct guard_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t sweeper;
    int running, quit;
    struct gconn *head;
    int total;
    struct addr_count *addrs[ADDR_BUCKETS];
};

/* ---- addresses ----------------------------------------------------------- */

static void sockaddr_text(const struct sockaddr *sa, char *out)
{
    char buf[PROXY_IP_LEN] = "-";
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  sizeof buf);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  sizeof buf);
    if (proxy_ip_normalize(buf, strlen(buf), out))
        snprintf(out, PROXY_IP_LEN, "%s", buf);
}

static unsigned addr_hash(const char *s)
{
    return str_hash(s) % ADDR_BUCKETS;
}

static struct addr_count *addr_find(struct conn_guard *g, const char *ip, int create)
{
    unsigned b = addr_hash(ip);
    for (struct addr_count *a = g->addrs[b]; a; a = a->next)
        if (strcmp(a->ip, ip) == 0)
            return a;
    if (!create)
        return NULL;
    struct addr_count *a = xcalloc(1, sizeof *a);
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    a->next = g->addrs[b];
    g->addrs[b] = a;
    return a;
}

static void addr_release(struct conn_guard *g, struct addr_count *ac)
{
    if (!ac || --ac->n > 0)
        return;
    struct addr_count **pp = &g->addrs[addr_hash(ac->ip)];
    while (*pp && *pp != ac)
        pp = &(*pp)->next;
    if (*pp)
        *pp = ac->next;
    free(ac);
}

/* ---- MHD callbacks (MHD thread) ----------------------------------------- */

enum MHD_Result guard_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    struct conn_guard *g = cls;
    char ip[PROXY_IP_LEN];
    (void)len;
    if (g->o.per_ip <= 0)
        return MHD_YES;
    sockaddr_text(addr, ip);
    if (proxy_is_trusted(g->o.trusted, ip))
        return MHD_YES;
    pthread_mutex_lock(&g->mu);
    struct addr_count *a = addr_find(g, ip, 0);
    int refuse = a && a->n >= g->o.per_ip;
    pthread_mutex_unlock(&g->mu);
    if (refuse) {
        metrics_counter_add("souk_http_connections_refused_total", "reason=\"per_address\"", 1);
        log_debug("http: %s holds %d connections: refused", ip, g->o.per_ip);
        return MHD_NO;
    }
    return MHD_YES;
}

static struct gconn *conn_open(struct conn_guard *g, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct gconn *k = xcalloc(1, sizeof *k);
    char ip[PROXY_IP_LEN];
    sockaddr_text(ai ? ai->client_addr : NULL, ip);
    k->fd = fi ? fi->connect_fd : -1;
    k->phase = GUARD_FRESH;
    pthread_mutex_lock(&g->mu);
    k->deadline_us = clock_mono_us() + (int64_t)g->o.header_timeout * 1000000;
    if (g->o.max_connections > 0 && g->total >= g->o.max_connections) {
        k->over = 1;
        k->deadline_us = clock_mono_us() + OVER_GRACE_US;
    }
    g->total++;
    k->ac = addr_find(g, ip, 1);
    k->ac->n++;
    k->next = g->head;
    if (g->head)
        g->head->prev = k;
    g->head = k;
    pthread_mutex_unlock(&g->mu);
    if (k->over)
        metrics_counter_add("souk_http_connections_refused_total", "reason=\"max_connections\"", 1);
    return k;
}

static void conn_close(struct conn_guard *g, struct gconn *k)
{
    pthread_mutex_lock(&g->mu);
    if (k->prev)
        k->prev->next = k->next;
    else
        g->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    g->total--;
    addr_release(g, k->ac);
    pthread_mutex_unlock(&g->mu);
    free(k);
}

void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    struct conn_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = conn_open(g, c);
    } else if (*socket_context) {
        conn_close(g, *socket_context);
        *socket_context = NULL;
    }
}

static struct gconn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

int guard_phase(struct conn_guard *g, struct MHD_Connection *c, int phase)
{
    struct gconn *k = g ? conn_of(c) : NULL;
    if (!k)
        return 0;
    pthread_mutex_lock(&g->mu);
    int64_t now = clock_mono_us();
    if (phase == GUARD_HEADERS && k->phase != GUARD_FRESH) /* fresh: keeps its accept deadline */
        k->deadline_us = now + (int64_t)g->o.header_timeout * 1000000;
    else if (phase == GUARD_BODY)
        k->deadline_us = now + (int64_t)g->o.body_timeout * 1000000;
    else if (phase == GUARD_WORK)
        k->deadline_us = 0;
    else if (phase == GUARD_IDLE)
        k->deadline_us = now + (int64_t)g->o.idle_timeout * 1000000;
    k->phase = phase;
    int over = k->over;
    pthread_mutex_unlock(&g->mu);
    return over;
}

/* ---- sweeper ------------------------------------------------------------- */

static const char *phase_name(int p)
{
    static const char *names[] = {"fresh", "headers", "body", "work", "idle"};
    return p >= 0 && p <= GUARD_IDLE ? names[p] : "other";
}

static void sweep(struct conn_guard *g)
{
    int64_t now = clock_mono_us();
    for (struct gconn *k = g->head; k; k = k->next) {
        if (k->shut || !k->deadline_us || now < k->deadline_us || k->fd < 0)
            continue;
        shutdown(k->fd, SHUT_RDWR);
        k->shut = 1;
        char labels[64];
        snprintf(labels, sizeof labels, "phase=\"%s\"", phase_name(k->phase));
        metrics_counter_add("souk_http_deadline_closes_total", labels, 1);
    }
}

static void *sweeper_main(void *arg)
{
    struct conn_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (!g->quit)
            sweep(g);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct conn_guard *guard_new(const struct guard_opts *o)
{
    struct conn_guard *g = xcalloc(1, sizeof *g);
    g->o = *o;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    metrics_describe("souk_http_deadline_closes_total",
                     "Connections closed for missing a header, body or idle deadline.");
    metrics_describe("souk_http_connections_refused_total",
                     "Connections refused (per-address cap) or answered 503 (max connections).");
    g->running = pthread_create(&g->sweeper, NULL, sweeper_main, g) == 0;
    return g;
}

/* After MHD_stop_daemon: every record is gone by then. */
void guard_free(struct conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->quit = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->running)
        pthread_join(g->sweeper, NULL);
    for (int b = 0; b < ADDR_BUCKETS; b++)
        while (g->addrs[b]) {
            struct addr_count *a = g->addrs[b];
            g->addrs[b] = a->next;
            free(a);
        }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}
