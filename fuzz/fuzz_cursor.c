/* fuzz_cursor.c - page cursor decoding (page_parse on ?cursor=<bytes>).
 *
 * Invariants: a cursor is refused with SOUK_INVALID naming `cursor`, or
 * accepted as a JSON object; an accepted cursor re-encoded with
 * page_cursor_encode decodes to an equal object with the same direction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/internal.h"

static struct http_req *req_with_cursor(const char *tok)
{
    struct http_req *req = http_req_new();
    req->query[0].key = "cursor";
    req->query[0].value = tok;
    req->nquery = 1;
    return req;
}

static void check_round_trip(struct http_req *req, const struct page *pg)
{
    char *tok = page_cursor_encode(req, pg->cursor);
    struct http_req *again;
    struct souk_errinfo ei = {0};
    struct page pg2;

    if (!tok)
        abort();
    if (strlen(tok) > 512)
        return; /* re-encoding may be longer (escapes); then it is refused */
    again = req_with_cursor(tok);
    if (page_parse(again, &pg2, &ei) != SOUK_OK)
        abort();
    if (!json_equal(pg->cursor, pg2.cursor) || pg2.backwards != pg->backwards)
        abort();
    souk_errinfo_cleanup(&ei);
    http_req_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = malloc(size + 1);
    struct http_req *req;
    struct souk_errinfo ei = {0};
    struct page pg;
    int err;

    memcpy(tok, data, size);
    tok[size] = '\0';
    req = req_with_cursor(tok);
    err = page_parse(req, &pg, &ei);
    if (err == SOUK_OK) {
        if (!json_is_object(pg.cursor))
            abort();
        check_round_trip(req, &pg);
    } else if (err != SOUK_INVALID || !json_object_get(ei.errors, "cursor")) {
        abort();
    }
    souk_errinfo_cleanup(&ei);
    http_req_free(req);
    free(tok);
    return 0;
}
