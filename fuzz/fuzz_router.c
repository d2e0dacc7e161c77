/* fuzz_router.c - route matching over arbitrary methods and paths, with a
 * route table shaped like souk's (literals beside UUID and free parameters,
 * /api/v1/ mirroring, a ROUTE_NO_API route).
 *
 * Input: the first byte picks a method (or, past the list, the method is
 * the bytes up to the first space), the rest is the decoded path.
 * Invariants: a match has a route whose method fits (HEAD may use GET),
 * at most HTTP_MAX_PARAMS parameters, each non-empty, without '/', and a
 * UUID where the template names one ({id}, {*_id}); "method not allowed"
 * lists the allowed methods. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/uuid.h"
#include "http/router.h"

static int dummy(struct http_req *req)
{
    (void)req;
    return 0;
}

static const char *const ROUTES[][2] = {
    {"POST", "/api/users/register/"}, {"POST", "/api/users/login/"},
    {"POST", "/api/users/token/refresh/"}, {"POST", "/api/users/logout/"},
    {"GET", "/api/chefs/"}, {"GET", "/api/chefs/{id}/"}, {"PUT", "/api/chefs/{id}/"},
    {"GET", "/api/chefs/{id}/recipes/"}, {"GET", "/api/recipes/"}, {"POST", "/api/recipes/"},
    {"GET", "/api/recipes/{id}/"}, {"GET", "/api/recipes/global/"},
    {"GET", "/api/recipes/search/"}, {"POST", "/api/subscriptions/{id}/cancel/"},
    {"GET", "/api/auctions/"}, {"GET", "/api/auctions/{id}/"},
    {"GET", "/api/bids/recipes/{recipe_id}/"}, {"GET", "/api/services/variants/{id}/availability/"},
    {"GET", "/api/orders/{id}/"}, {"POST", "/api/orders/{id}/cancel/"},
    {"GET", "/api/orders/{id}/cancel/"}, {"POST", "/api/orders/{id}/payment-link/"},
    {"PATCH", "/api/admin/users/{id}/"}, {"GET", "/api/tags/{slug}/"},
    {"GET", "/api/tags/{slug}/{page}/"}, {"DELETE", "/api/tags/{slug}/"},
    {"POST", "/api/payments/webhooks/"}, {"GET", "/media/{name}"},
};

static const char *const METHODS[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
#define NMETHODS (sizeof METHODS / sizeof METHODS[0])

static struct router *table(void)
{
    static struct router *r;
    if (r)
        return r;
    r = router_new();
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        http_route(r, ROUTES[i][0], ROUTES[i][1], dummy, 0, "fuzz");
    http_route(r, "GET", "/healthz", dummy, ROUTE_NO_API, "fuzz");
    return r;
}

/* The template's i-th parameter names a UUID ({id} or {*_id}). */
static int param_is_uuid(const char *tmpl, int i)
{
    for (const char *p = tmpl; (p = strchr(p, '{')); p++) {
        const char *end = strchr(p, '}');
        if (i-- > 0)
            continue;
        size_t n = (size_t)(end - p - 1);
        return (n == 2 && !strncmp(p + 1, "id", 2)) || (n > 3 && !strncmp(end - 3, "_id", 3));
    }
    abort(); /* more parameters than the template has */
}

static void check(const char *method, enum router_result rc, const struct router_match *m)
{
    if (rc == ROUTER_METHOD && !m->allow[0])
        abort();
    if (rc != ROUTER_FOUND)
        return;
    if (!m->route || m->nparams < 0 || m->nparams > HTTP_MAX_PARAMS)
        abort();
    if (strcmp(m->route->method, method) &&
        !(strcmp(method, "HEAD") == 0 && strcmp(m->route->method, "GET") == 0))
        abort();
    for (int i = 0; i < m->nparams; i++) {
        if (!m->params[i] || !m->params[i][0] || strchr(m->params[i], '/'))
            abort();
        if (param_is_uuid(m->route->tmpl, i) && !uuid_valid(m->params[i]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct arena *a;
    struct router_match m;
    const char *method;
    char *buf, *path;

    if (size < 1)
        return 0;
    if (!a)
        a = arena_new(0);
    buf = arena_alloc(a, size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    path = buf;
    method = data[0] < NMETHODS ? METHODS[data[0]] : NULL;
    if (!method) { /* "<method> <path>" */
        char *sp = strchr(buf, ' ');
        if (!sp)
            return 0;
        *sp = '\0';
        method = buf;
        path = sp + 1;
    }
    memset(&m, 0, sizeof m);
    check(method, router_match(table(), method, path, a, &m), &m);
    arena_reset(a);
    return 0;
}
