/* router.h - route matching, internal to src/http (and the fuzz target).
 *
 * Routes are kept in a segment trie: each node has literal children, at
 * most one UUID-parameter child and one any-segment child. Matching tries
 * literal, then UUID, then any (backtracking), so `/api/recipes/search/`
 * beats `/api/recipes/{id}/`. A path under /api/v1/ that has no route of
 * its own is matched as /api/... (unless the route is ROUTE_NO_API).
 *
 * Thread safety: register everything before the server starts; matching
 * is read-only and may run on many threads at once.
 */
#ifndef SOUK_HTTP_ROUTER_H
#define SOUK_HTTP_ROUTER_H

#include "http/http.h"

#define ROUTER_MAX_SEGMENTS 32

struct route_entry {
    const char *method;
    const char *tmpl;
    http_handler fn;
    unsigned flags;
    const char *summary;
    struct route_entry *next; /* registration order */
};

enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND = 1,
    ROUTER_METHOD = 2 /* path known, method not: see allow */
};

struct router_match {
    const struct route_entry *route; /* ROUTER_FOUND */
    const char *params[HTTP_MAX_PARAMS];
    int nparams;
    char allow[128]; /* "GET, HEAD, OPTIONS" for ROUTER_METHOD (and FOUND) */
};

/* Matches method + decoded path (no query string). Parameter strings are
 * allocated from `a`. HEAD falls back to GET. */
enum router_result router_match(const struct router *r, const char *method, const char *path,
                                struct arena *a, struct router_match *m);

#endif
