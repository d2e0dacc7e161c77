/* bus.h - cache invalidation between the nodes of a cluster, over Redis pub/sub.
 *
 * A module that caches what the database holds registers a topic, drops its own stale entries
 * itself, and calls bus_publish(topic, payload): the topic's on_msg(payload) then runs on every
 * other node when the message arrives (a node skips its own messages: each carries the
 * sender's random id).
 * on_reset runs when the
 * listener (re)connects: messages may have been missed meanwhile, so the module drops
 * everything. Without SOUK_REDIS_URL, or while Redis is away, nothing crosses nodes:
 * bus_connected() says so, and caches then keep their entries only briefly.
 *
 * One channel (BUS_CHANNEL), messages "node\ttopic\tpayload"; one listener thread per process, one
 * publisher connection (its own mutex). A publish waits for Redis's answer (the message is
 * then in every subscriber's socket), so call it after the commit and before the response: the
 * next read on another node normally finds its cache dropped already.
 *
 * Thread safety: every function may be called from any thread; handlers run on the listener
 * thread and must be quick (drop entries, bump a counter).
 */
#ifndef SOUK_BUS_H
#define SOUK_BUS_H

#include "core/err.h"

#define BUS_CHANNEL "souk:bus"
#define BUS_TOPICS_MAX 16

typedef void (*bus_msg_fn)(const char *payload, void *arg);
typedef void (*bus_reset_fn)(void *arg);

/* Registers a topic (a short name without tab; again: replaces it); before or after bus_start.
 * 0 ok, -1 full. */
int bus_topic(const char *topic, bus_msg_fn on_msg, bus_reset_fn on_reset, void *arg);
/* Starts the listener when redis_url is set (else the bus is local only). 0 ok. */
int bus_start(const char *redis_url, struct souk_errinfo *ei);
void bus_stop(void);
/* Sends payload on topic to every other node (nothing without Redis). */
void bus_publish(const char *topic, const char *payload);
/* 1 while the listener is subscribed (other nodes' messages arrive). */
int bus_connected(void);

#endif
