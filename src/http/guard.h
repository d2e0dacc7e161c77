/* guard.h - connection deadlines and caps for the HTTP server (guard.c).
 * Internal to src/http: server.c wires it into the MHD daemon. */
#ifndef SOUK_HTTP_GUARD_H
#define SOUK_HTTP_GUARD_H

#include <sys/socket.h>
#include <microhttpd.h>
#include "http/proxy.h"

#define GUARD_HEADROOM 64 /* MHD's hard limit above max_connections */

enum guard_phase { GUARD_FRESH, GUARD_HEADERS, GUARD_BODY, GUARD_WORK, GUARD_IDLE };

struct guard_opts {
    int max_connections;   /* past it: 503 */
    int per_ip;            /* connections per untrusted address; 0: no cap */
    int header_timeout;    /* seconds from accept (or request line) to the end of headers */
    int body_timeout;      /* seconds from the end of headers to the end of the body */
    int idle_timeout;      /* keep-alive seconds between requests */
    const struct proxy_list *trusted; /* exempt from per_ip; outlives the guard */
};

struct conn_guard;
struct conn_guard *guard_new(const struct guard_opts *o);
void guard_free(struct conn_guard *g);
/* MHD accept policy and connection notification (cls = the guard). */
enum MHD_Result guard_accept(void *cls, const struct sockaddr *addr, socklen_t len);
void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode code);
/* The connection's request moved to phase; returns 1 when the connection is
 * past max_connections (answer 503 and close). MHD thread. */
int guard_phase(struct conn_guard *g, struct MHD_Connection *c, int phase);

#endif
