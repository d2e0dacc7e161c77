/* proxy.h - who the client is when souk runs behind reverse proxies.
 *
 * SOUK_TRUSTED_PROXIES is a comma- or space-separated list of CIDRs
 * ("10.0.0.0/8, 127.0.0.1, fd00::/8"; a bare address is a /32 or /128).
 * From a peer inside that list the client address is the right-most hop of
 * X-Forwarded-For (or, without it, of Forwarded: for=) that is not itself a
 * trusted proxy, and X-Forwarded-Proto (or Forwarded: proto=) says whether
 * the client used https. From any other peer those headers are ignored: the
 * client is the peer.
 *
 * A list is immutable once parsed and may be read from any thread.
 */
#ifndef SOUK_HTTP_PROXY_H
#define SOUK_HTTP_PROXY_H

#include <stddef.h>

#define PROXY_IP_LEN 46 /* INET6_ADDRSTRLEN */

struct proxy_cidr {
    int family;               /* AF_INET or AF_INET6 */
    unsigned char addr[16];   /* network byte order, 4 or 16 bytes used */
    int bits;
};

struct proxy_list {
    struct proxy_cidr *v;
    int n;
};

/* Parses spec (NULL or "" is the empty list). 0 ok; -1 with a message in err
 * (the list is left empty). Free with proxy_list_free. */
int proxy_list_parse(const char *spec, struct proxy_list *out, char *err, size_t errlen);
void proxy_list_free(struct proxy_list *l);

/* Normalises an address as found in a header or from the socket: strips
 * quotes, "[v6]:port" and "v4:port", maps ::ffff:a.b.c.d to a.b.c.d.
 * 0 and the canonical text in out[PROXY_IP_LEN], or -1 when not an address
 * ("unknown", "_obfuscated", garbage). */
int proxy_ip_normalize(const char *s, size_t n, char *out);

/* Whether the (normalised) address ip is inside one of the list's CIDRs. */
int proxy_is_trusted(const struct proxy_list *l, const char *ip);

struct proxy_result {
    char client[PROXY_IP_LEN]; /* the client address */
    int https;                 /* the client spoke https to the first trusted proxy */
    int forwarded;             /* the address came from a header */
};

/* Resolves the client from the peer address and the raw header values (each
 * may be NULL; several headers of one name joined with ","). */
void proxy_resolve(const struct proxy_list *l, const char *peer, const char *xff,
                   const char *forwarded, const char *xproto, struct proxy_result *out);

/* Sets req->peer_ip (peer), req->client_ip and req->https from the list
 * and the request's headers (every X-Forwarded-For, Forwarded and
 * X-Forwarded-Proto header, in order). */
struct http_req;
void proxy_apply(const struct proxy_list *l, struct http_req *req, const char *peer);

#endif
