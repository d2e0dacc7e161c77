/* bus.c - see bus.h. The listener thread connects, SUBSCRIBEs, calls every topic's on_reset,
 * then dispatches messages until the connection breaks, and starts again a second later. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <hiredis/hiredis.h>

#include "core/bus.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/uuid.h"

struct topic {
    char name[32];
    bus_msg_fn on_msg;
    bus_reset_fn on_reset;
    void *arg;
};

static struct {
    pthread_rwlock_t lock; /* the topics */
    struct topic t[BUS_TOPICS_MAX];
    int n;
    char node[UUID_STR_LEN];
    int on;
    struct redis_url url;
    pthread_mutex_t pub_mu;
    redisContext *pub;
    pthread_mutex_t sub_mu;
    redisContext *sub;
    pthread_t thread;
    atomic_int stopping, connected;
} B = {.lock = PTHREAD_RWLOCK_INITIALIZER,
       .pub_mu = PTHREAD_MUTEX_INITIALIZER,
       .sub_mu = PTHREAD_MUTEX_INITIALIZER};

int bus_topic(const char *topic, bus_msg_fn on_msg, bus_reset_fn on_reset, void *arg)
{
    int rc = -1;

    pthread_rwlock_wrlock(&B.lock);
    int i = 0;

    while (i < B.n && strcmp(B.t[i].name, topic))
        i++;
    if (i < BUS_TOPICS_MAX && strlen(topic) < sizeof B.t[0].name && !strchr(topic, '\t')) {
        struct topic *t = &B.t[i]; /* a topic registered again (a module restarted) is replaced */

        B.n += i == B.n;

        snprintf(t->name, sizeof t->name, "%s", topic);
        t->on_msg = on_msg;
        t->on_reset = on_reset;
        t->arg = arg;
        rc = 0;
    }
    pthread_rwlock_unlock(&B.lock);
    return rc;
}

static void dispatch(const char *topic, size_t tlen, const char *payload)
{
    pthread_rwlock_rdlock(&B.lock);
    for (int i = 0; i < B.n; i++)
        if (strlen(B.t[i].name) == tlen && !strncmp(B.t[i].name, topic, tlen) && B.t[i].on_msg)
            B.t[i].on_msg(payload, B.t[i].arg);
    pthread_rwlock_unlock(&B.lock);
}

static void reset_all(void)
{
    pthread_rwlock_rdlock(&B.lock);
    for (int i = 0; i < B.n; i++)
        if (B.t[i].on_reset)
            B.t[i].on_reset(B.t[i].arg);
    pthread_rwlock_unlock(&B.lock);
}

/* "node\ttopic\tpayload" from another node: dispatched. */
static void received(const char *msg)
{
    const char *t = strchr(msg, '\t'), *p;

    if (!t || !(p = strchr(t + 1, '\t')))
        return;
    if ((size_t)(t - msg) == strlen(B.node) && !strncmp(msg, B.node, (size_t)(t - msg)))
        return; /* ours: already applied here */
    dispatch(t + 1, (size_t)(p - t - 1), p + 1);
}

void bus_publish(const char *topic, const char *payload)
{
    redisReply *r = NULL;

    if (!B.on)
        return;
    pthread_mutex_lock(&B.pub_mu);
    for (int tries = 0; tries < 2 && !r; tries++) {
        if (!B.pub && !(B.pub = redis_open(&B.url, 2000, 2000, NULL, 0)))
            break;
        r = redisCommand(B.pub, "PUBLISH %s %s\t%s\t%s", BUS_CHANNEL, B.node, topic, payload);
        if (!r) {
            redisFree(B.pub);
            B.pub = NULL;
        }
    }
    pthread_mutex_unlock(&B.pub_mu);
    if (r)
        freeReplyObject(r);
    else
        log_warn("bus: %s not published; other nodes' caches catch up by their lifetime", topic);
}

int bus_connected(void)
{
    return atomic_load(&B.connected);
}

static void listen_loop(redisContext *c)
{
    redisReply *r = redisCommand(c, "SUBSCRIBE %s", BUS_CHANNEL);
    void *vr;

    if (!r)
        return;
    freeReplyObject(r);
    reset_all(); /* messages may have been missed while disconnected */
    atomic_store(&B.connected, 1);
    while (redisGetReply(c, &vr) == REDIS_OK) {
        r = vr;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[2]->type == REDIS_REPLY_STRING)
            received(r->element[2]->str);
        if (r)
            freeReplyObject(r);
    }
    atomic_store(&B.connected, 0);
}

static void *listener(void *arg)
{
    (void)arg;
    while (!atomic_load(&B.stopping)) {
        redisContext *c = redis_open(&B.url, 2000, 0, NULL, 0);

        if (!c) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            continue;
        }
        pthread_mutex_lock(&B.sub_mu);
        B.sub = atomic_load(&B.stopping) ? NULL : c;
        pthread_mutex_unlock(&B.sub_mu);
        if (B.sub)
            listen_loop(c);
        pthread_mutex_lock(&B.sub_mu);
        B.sub = NULL;
        pthread_mutex_unlock(&B.sub_mu);
        redisFree(c);
        if (!atomic_load(&B.stopping))
            log_warn("bus: redis listener lost; reconnecting (caches keep entries briefly)");
    }
    return NULL;
}

int bus_start(const char *redis_url, struct souk_errinfo *ei)
{
    if (!redis_url || !*redis_url || B.on)
        return 0;
    if (redis_url_parse(redis_url, &B.url))
        return souk_fail(ei, SOUK_INVALID, "SOUK_REDIS_URL: expected redis://host[:port]");
    uuid_v7(B.node);
    atomic_store(&B.stopping, 0);
    if (pthread_create(&B.thread, NULL, listener, NULL))
        return souk_fail(ei, SOUK_INTERNAL, "bus: cannot start the redis listener");
    B.on = 1;
    return 0;
}

void bus_stop(void)
{
    if (!B.on)
        return;
    atomic_store(&B.stopping, 1);
    pthread_mutex_lock(&B.sub_mu);
    if (B.sub)
        shutdown(B.sub->fd, SHUT_RDWR); /* breaks redisGetReply */
    pthread_mutex_unlock(&B.sub_mu);
    pthread_join(B.thread, NULL);
    B.on = 0;
    pthread_mutex_lock(&B.pub_mu);
    if (B.pub)
        redisFree(B.pub);
    B.pub = NULL;
    pthread_mutex_unlock(&B.pub_mu);
    atomic_store(&B.connected, 0);
}
