/* fuzz_query.c - the query-string parser (http_parse_query in request.c)
 * and what is built from its output: page_size/cursor parsing and the
 * pagination links that re-encode the parameters.
 *
 * Invariants: at most HTTP_MAX_QUERY pairs, every key non-empty as
 * received and NUL-terminated; http_query finds the first value of each
 * key; and re-parsing the query of a `next` link gives back the same
 * parameters (minus `cursor`, plus the new one), so the percent-encoding
 * of links round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/internal.h"

static void check_pairs(const struct http_req *req)
{
    if (req->nquery < 0 || req->nquery > HTTP_MAX_QUERY)
        abort();
    for (int i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value;
        if (!k || !v)
            abort();
        const char *first = http_query(req, k);
        if (!first)
            abort();
        for (int j = 0; j < i; j++) /* first value wins */
            if (strcmp(req->query[j].key, k) == 0) {
                if (first != req->query[j].value && strcmp(first, req->query[j].value))
                    abort();
                break;
            }
    }
}

/* The parameters a link keeps: everything but cursor and empty keys. */
static int kept(const struct http_kv *kv)
{
    return kv->key[0] && strcmp(kv->key, "cursor") != 0;
}

static void check_link(struct http_req *req)
{
    json_t *env = page_envelope(req, json_array(), "Q1w", NULL);
    const char *url = json_string_value(json_object_get(env, "next"));
    const char *q = url ? strchr(url, '?') : NULL;
    struct http_req *again = http_req_new();
    int i = 0, j = 0;

    if (!q)
        abort();
    http_parse_query(again, q + 1);
    for (; i < req->nquery; i++) {
        if (!kept(&req->query[i]))
            continue;
        if (j >= again->nquery)
            break; /* the re-parse stops at HTTP_MAX_QUERY too */
        if (strcmp(req->query[i].key, again->query[j].key) ||
            strcmp(req->query[i].value, again->query[j].value))
            abort();
        j++;
    }
    if (i == req->nquery && j < again->nquery &&
        (strcmp(again->query[j].key, "cursor") || strcmp(again->query[j].value, "Q1w")))
        abort();
    json_decref(env);
    http_req_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req *req = http_req_new();
    char *qs = arena_alloc(req->arena, size + 1);
    struct souk_errinfo ei = {0};
    struct page pg;

    memcpy(qs, data, size);
    qs[size] = '\0';
    http_parse_query(req, qs);
    check_pairs(req);
    if (page_parse(req, &pg, &ei) == SOUK_OK && (pg.size < 1 || pg.size > 100))
        abort();
    souk_errinfo_cleanup(&ei);
    check_link(req);
    http_req_free(req);
    return 0;
}
