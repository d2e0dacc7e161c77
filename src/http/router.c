/* router.c - method + path template registration and matching.
 *
 * Templates are split into segments at registration; each segment is a
 * literal, `{name}` (any non-empty segment) or a UUID parameter (`{id}`
 * or `{*_id}`). The trie has one node per distinct prefix; a node that
 * ends a template holds its routes (one per method). See router.h.
 *
 * Registration mistakes (duplicate route, too many parameters, a template
 * that does not start with '/') are programming errors: logged, then abort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/uuid.h"
#include "http/router.h"

struct rnode {
    char *lit; /* this node's literal segment (for literal children) */
    struct rnode **kids;
    int nkids;
    struct rnode *uuid_kid, *any_kid;
    struct route_entry **routes;
    int nroutes;
};

struct router {
    struct rnode root;
    struct route_entry *head, *tail;
    int count;
};

static void die(const char *what, const char *method, const char *tmpl)
{
    log_error("router: %s: %s %s", what, method, tmpl);
    abort();
}

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

static void node_cleanup(struct rnode *n)
{
    for (int i = 0; i < n->nkids; i++) {
        node_cleanup(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    free(n->lit);
    free(n->routes);
    if (n->uuid_kid) {
        node_cleanup(n->uuid_kid);
        free(n->uuid_kid);
    }
    if (n->any_kid) {
        node_cleanup(n->any_kid);
        free(n->any_kid);
    }
}

void router_free(struct router *r)
{
    if (!r)
        return;
    node_cleanup(&r->root);
    for (struct route_entry *e = r->head, *n; e; e = n) {
        n = e->next;
        free((char *)e->method);
        free((char *)e->tmpl);
        free((char *)e->summary);
        free(e);
    }
    free(r);
}

/* ---- registration ------------------------------------------------------- */

static int is_uuid_param(const char *seg, size_t len)
{
    /* seg is "{name}"; name is seg+1 .. len-2 */
    size_t n = len - 2;
    const char *name = seg + 1;
    return (n == 2 && memcmp(name, "id", 2) == 0) || (n > 3 && memcmp(name + n - 3, "_id", 3) == 0);
}

static struct rnode *child_literal(struct rnode *n, const char *seg, size_t len)
{
    for (int i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i]->lit) == len && memcmp(n->kids[i]->lit, seg, len) == 0)
            return n->kids[i];
    n->kids = xrealloc(n->kids, (size_t)(n->nkids + 1) * sizeof *n->kids);
    struct rnode *k = xcalloc(1, sizeof *k);
    k->lit = xcalloc(1, len + 1);
    memcpy(k->lit, seg, len);
    n->kids[n->nkids++] = k;
    return k;
}

static struct rnode *child_param(struct rnode **slot)
{
    if (!*slot)
        *slot = xcalloc(1, sizeof **slot);
    return *slot;
}

/* Walks (creating) the nodes of tmpl; returns the end node. */
static struct rnode *node_for(struct router *r, const char *method, const char *tmpl)
{
    struct rnode *n = &r->root;
    int nparams = 0, nseg = 0;
    const char *p = tmpl + 1;

    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || ++nseg > ROUTER_MAX_SEGMENTS)
            die("bad template", method, tmpl);
        if (p[0] == '{' && p[len - 1] == '}' && len > 2) {
            if (++nparams > HTTP_MAX_PARAMS)
                die("too many parameters", method, tmpl);
            n = child_param(is_uuid_param(p, len) ? &n->uuid_kid : &n->any_kid);
        } else {
            n = child_literal(n, p, len);
        }
        p += len;
        if (*p == '/')
            p++;
    }
    return n;
}

void http_route(struct router *r, const char *method, const char *tmpl, http_handler fn,
                unsigned flags, const char *summary)
{
    if (!tmpl || tmpl[0] != '/' || !method || !fn)
        die("bad route", method ? method : "?", tmpl ? tmpl : "?");
    struct rnode *n = node_for(r, method, tmpl);
    for (int i = 0; i < n->nroutes; i++)
        if (strcmp(n->routes[i]->method, method) == 0)
            die("duplicate route", method, tmpl);
    struct route_entry *e = xcalloc(1, sizeof *e);
    e->method = xstrdup(method);
    e->tmpl = xstrdup(tmpl);
    e->fn = fn;
    e->flags = flags;
    e->summary = xstrdup(summary ? summary : "");
    n->routes = xrealloc(n->routes, (size_t)(n->nroutes + 1) * sizeof *n->routes);
    n->routes[n->nroutes++] = e;
    if (r->tail)
        r->tail->next = e;
    else
        r->head = e;
    r->tail = e;
    r->count++;
}

int http_routes(const struct router *r, struct http_route_info *out, int max)
{
    int i = 0;
    for (const struct route_entry *e = r->head; e && i < max; e = e->next, i++)
        out[i] = (struct http_route_info){e->method, e->tmpl, e->summary, e->flags};
    return i;
}

/* ---- matching ----------------------------------------------------------- */

struct walk {
    char *segs[ROUTER_MAX_SEGMENTS];
    int nseg;
    const char **params;
    int np;
};

static const struct rnode *walk(const struct rnode *n, struct walk *w, int i)
{
    const struct rnode *found;
    if (i == w->nseg)
        return n->nroutes ? n : NULL;
    const char *seg = w->segs[i];
    for (int k = 0; k < n->nkids; k++)
        if (strcmp(n->kids[k]->lit, seg) == 0 && (found = walk(n->kids[k], w, i + 1)))
            return found;
    const struct rnode *pk[2] = {uuid_valid(seg) ? n->uuid_kid : NULL, n->any_kid};
    for (int k = 0; k < 2; k++) {
        if (!pk[k] || w->np >= HTTP_MAX_PARAMS)
            continue;
        w->params[w->np++] = seg;
        if ((found = walk(pk[k], w, i + 1)))
            return found;
        w->np--;
    }
    return NULL;
}

/* Splits a copy of path into segments; -1 for an unmatchable path. */
static int split(char *p, struct walk *w)
{
    if (*p != '/')
        return -1;
    p++;
    w->nseg = 0;
    while (*p) {
        char *e = strchr(p, '/');
        if (e == p || w->nseg == ROUTER_MAX_SEGMENTS)
            return -1; /* empty segment ("//") or too deep */
        w->segs[w->nseg++] = p;
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return 0;
}

static void allow_add(char *allow, size_t n, const char *m)
{
    if (strstr(allow, m))
        return;
    size_t l = strlen(allow);
    snprintf(allow + l, n - l, "%s%s", l ? ", " : "", m);
}

/* Picks the route for method at node n; mirrored: skip ROUTE_NO_API. */
static enum router_result pick(const struct rnode *n, const char *method, int mirrored,
                               struct router_match *m)
{
    const struct route_entry *get = NULL;
    int usable = 0;
    m->allow[0] = '\0';
    m->route = NULL;
    for (int i = 0; i < n->nroutes; i++) {
        const struct route_entry *e = n->routes[i];
        if (mirrored && (e->flags & ROUTE_NO_API))
            continue;
        usable++;
        allow_add(m->allow, sizeof m->allow, e->method);
        if (strcmp(e->method, "GET") == 0) {
            get = e;
            allow_add(m->allow, sizeof m->allow, "HEAD");
        }
        if (strcmp(e->method, method) == 0)
            m->route = e;
    }
    if (!usable)
        return ROUTER_NOT_FOUND;
    allow_add(m->allow, sizeof m->allow, "OPTIONS");
    if (!m->route && strcmp(method, "HEAD") == 0)
        m->route = get;
    return m->route ? ROUTER_FOUND : ROUTER_METHOD;
}

static enum router_result match_path(const struct router *r, const char *method, const char *path,
                                     int mirrored, struct arena *a, struct router_match *m)
{
    struct walk w = {.params = m->params};
    char *copy = arena_strdup(a, path);
    if (split(copy, &w) < 0)
        return ROUTER_NOT_FOUND;
    const struct rnode *n = walk(&r->root, &w, 0);
    m->nparams = w.np;
    if (!n)
        return ROUTER_NOT_FOUND;
    return pick(n, method, mirrored, m);
}

enum router_result router_match(const struct router *r, const char *method, const char *path,
                                struct arena *a, struct router_match *m)
{
    memset(m, 0, sizeof *m);
    enum router_result res = match_path(r, method, path, 0, a, m);
    if (res != ROUTER_NOT_FOUND || strncmp(path, "/api/v1", 7) != 0 ||
        (path[7] != '/' && path[7] != '\0'))
        return res;
    memset(m, 0, sizeof *m);
    char *alt = arena_sprintf(a, "/api%s", path + 7);
    return match_path(r, method, alt, 1, a, m);
}
