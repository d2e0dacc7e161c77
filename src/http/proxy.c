/* proxy.c - trusted reverse proxies: CIDR lists and the client address
 * behind X-Forwarded-For / Forwarded (RFC 7239). See proxy.h for the rules.
 *
 * A chain is read right to left: the peer (trusted, or nothing is read),
 * then each hop of the header from the last one. The first hop that is not
 * a trusted proxy is the client. A hop that is not an address ("unknown",
 * an obfuscated name, garbage) ends the walk: the client is then the hop on
 * its right, the last proxy that can be believed. When every hop is trusted
 * the left-most one is the client. Nothing here allocates after parsing.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/arena.h"
#include "http/internal.h"
#include "http/proxy.h"

#define MAX_HOPS 32

/* ---- addresses ----------------------------------------------------------- */

static int parse_addr(const char *s, int *family, unsigned char *addr)
{
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) != 1)
        return -1;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        *family = AF_INET;
        return 0;
    }
    *family = AF_INET6;
    return 0;
}

/* s[0..n) without spaces and quotes, and without a port. */
static int strip_hop(const char *s, size_t n, char *buf, size_t cap)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        s++, n -= 2;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        n = (size_t)(close - s - 1);
        s++;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
            n = (size_t)(colon - s); /* v4:port; a v6 address has several colons */
    }
    if (n == 0 || n >= cap)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

int proxy_ip_normalize(const char *s, size_t n, char *out)
{
    char buf[PROXY_IP_LEN + 8];
    unsigned char addr[16];
    int family;
    if (!s || strip_hop(s, n, buf, sizeof buf) || parse_addr(buf, &family, addr))
        return -1;
    return inet_ntop(family, addr, out, PROXY_IP_LEN) ? 0 : -1;
}

/* ---- CIDR lists ---------------------------------------------------------- */

static int parse_cidr(const char *s, size_t n, struct proxy_cidr *c)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (parse_addr(buf, &c->family, c->addr))
        return -1;
    int max = c->family == AF_INET ? 32 : 128;
    c->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return -1;
        c->bits = (int)b;
    }
    return 0;
}

int proxy_list_parse(const char *spec, struct proxy_list *out, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    for (const char *p = spec ? spec : ""; *p;) {
        size_t skip = strspn(p, ", \t"), n;
        p += skip;
        if (!*p)
            break;
        n = strcspn(p, ", \t");
        struct proxy_cidr c;
        if (parse_cidr(p, n, &c)) {
            snprintf(err, errlen, "SOUK_TRUSTED_PROXIES: \"%.*s\" is not an address or CIDR",
                     (int)(n > 64 ? 64 : n), p);
            proxy_list_free(out);
            return -1;
        }
        out->v = xrealloc(out->v, (size_t)(out->n + 1) * sizeof *out->v);
        out->v[out->n++] = c;
        p += n;
    }
    return 0;
}

void proxy_list_free(struct proxy_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cidr_has(const struct proxy_cidr *c, int family, const unsigned char *addr)
{
    if (c->family != family)
        return 0;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

int proxy_is_trusted(const struct proxy_list *l, const char *ip)
{
    unsigned char addr[16];
    int family;
    if (!l || !l->n || !ip || parse_addr(ip, &family, addr))
        return 0;
    for (int i = 0; i < l->n; i++)
        if (cidr_has(&l->v[i], family, addr))
            return 1;
    return 0;
}

/* ---- headers ------------------------------------------------------------- */

struct hops {
    const char *s[MAX_HOPS];
    size_t n[MAX_HOPS];
    int count;
};

/* X-Forwarded-For: a comma list; only the last MAX_HOPS are kept. */
static void xff_hops(const char *v, struct hops *h)
{
    for (const char *p = v; p && *p;) {
        size_t n = strcspn(p, ",");
        if (h->count == MAX_HOPS) {
            memmove(h->s, h->s + 1, sizeof h->s[0] * (MAX_HOPS - 1));
            memmove(h->n, h->n + 1, sizeof h->n[0] * (MAX_HOPS - 1));
            h->count--;
        }
        h->s[h->count] = p;
        h->n[h->count++] = n;
        p += n;
        if (*p == ',')
            p++;
    }
}

/* The value of `name=` in one Forwarded element s[0..n), or NULL. */
static const char *fwd_param(const char *s, size_t n, const char *name, size_t *vn)
{
    size_t kl = strlen(name);
    for (const char *p = s, *end = s + n; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t pn = (size_t)(end - p), len = 0;
        const char *semi = memchr(p, ';', pn);
        len = semi ? (size_t)(semi - p) : pn;
        if (len > kl && strncasecmp(p, name, kl) == 0 && p[kl] == '=') {
            *vn = len - kl - 1;
            return p + kl + 1;
        }
        p += len + 1;
    }
    return NULL;
}

/* Forwarded: elements separated by commas (quoted values hold no commas
 * that matter here: an address never contains one). */
static void fwd_hops(const char *v, struct hops *h, const char **proto, size_t *proto_n)
{
    struct hops el = {0};
    xff_hops(v, &el);
    for (int i = 0; i < el.count; i++) {
        size_t vn = 0, pn = 0;
        const char *pr = fwd_param(el.s[i], el.n[i], "proto", &pn);
        const char *f = fwd_param(el.s[i], el.n[i], "for", &vn);
        if (pr) {
            *proto = pr;
            *proto_n = pn;
        }
        h->s[h->count] = f ? f : "";
        h->n[h->count++] = f ? vn : 0;
    }
}

static int proto_is_https(const char *p, size_t n)
{
    /* the right-most value: the one the nearest proxy wrote */
    const char *last = p;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ',')
            last = p + i + 1;
    n -= (size_t)(last - p);
    while (n && isspace((unsigned char)*last))
        last++, n--;
    while (n && (isspace((unsigned char)last[n - 1]) || last[n - 1] == '"'))
        n--;
    if (n && *last == '"')
        last++, n--;
    return n == 5 && strncasecmp(last, "https", 5) == 0;
}

static void walk(const struct proxy_list *l, const struct hops *h, struct proxy_result *out)
{
    for (int i = h->count - 1; i >= 0; i--) {
        char ip[PROXY_IP_LEN];
        if (proxy_ip_normalize(h->s[i], h->n[i], ip))
            return; /* unreadable: keep the last trusted hop */
        snprintf(out->client, sizeof out->client, "%s", ip);
        out->forwarded = 1;
        if (!proxy_is_trusted(l, ip))
            return;
    }
}

void proxy_resolve(const struct proxy_list *l, const char *peer, const char *xff,
                   const char *forwarded, const char *xproto, struct proxy_result *out)
{
    memset(out, 0, sizeof *out);
    if (!peer || proxy_ip_normalize(peer, strlen(peer), out->client))
        snprintf(out->client, sizeof out->client, "%s", peer ? peer : "-");
    if (!proxy_is_trusted(l, out->client))
        return;
    struct hops h = {0};
    const char *proto = xproto;
    size_t proto_n = xproto ? strlen(xproto) : 0;
    if (xff && *xff) {
        xff_hops(xff, &h);
    } else if (forwarded && *forwarded) {
        const char *fp = NULL;
        size_t fpn = 0;
        fwd_hops(forwarded, &h, &fp, &fpn);
        if (!proto && fp) {
            proto = fp;
            proto_n = fpn;
        }
    }
    walk(l, &h, out);
    out->https = proto && proto_is_https(proto, proto_n);
}

/* ---- the request's view --------------------------------------------------- */

/* Every value of header `name`, joined with ",", or NULL. */
static const char *joined(struct http_req *req, const char *name)
{
    const char *out = NULL;
    for (int i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].key, name) != 0)
            continue;
        out = out ? arena_sprintf(req->arena, "%s,%s", out, req->headers[i].value)
                  : req->headers[i].value;
    }
    return out;
}

void proxy_apply(const struct proxy_list *l, struct http_req *req, const char *peer)
{
    struct proxy_result r;
    proxy_resolve(l, peer, joined(req, "X-Forwarded-For"), joined(req, "Forwarded"),
                  joined(req, "X-Forwarded-Proto"), &r);
    req->peer_ip = arena_strdup(req->arena, peer);
    req->client_ip =
        strcmp(r.client, peer) == 0 ? req->peer_ip : arena_strdup(req->arena, r.client);
    req->https = r.https;
}
