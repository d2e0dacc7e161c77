/* test_pagination.c - page_size and cursor parsing, cursor encoding and
 * the {"next","previous","results"} envelope with its links. */
#include "unit.h"

#include <stdio.h>

#include "core/b64.h"
#include "core/config.h"
#include "http/http.h"
#include "http/internal.h"

static struct http_req *req_with(const char *path, const char *qs)
{
    struct http_req *req = http_req_new();
    req->path = path;
    http_parse_query(req, qs);
    return req;
}

/* Parses and returns the error; fills *pg. */
static int parse(const char *qs, struct page *pg, struct souk_errinfo *ei)
{
    struct http_req *req = req_with("/api/x/", qs);
    int err = page_parse(req, pg, ei);
    /* pg->cursor belongs to the request: check it before freeing */
    if (!err && pg->cursor)
        assert_true(json_is_object(pg->cursor));
    http_req_free(req);
    pg->cursor = NULL;
    return err;
}

static int size_of(const char *qs)
{
    struct page pg;
    struct souk_errinfo ei = {0};
    int err = parse(qs, &pg, &ei);
    souk_errinfo_cleanup(&ei);
    return err ? -1 : pg.size;
}

static void test_page_size(void **state)
{
    struct souk_config cfg = {0};

    (void)state;
    souk_cfg = NULL;
    assert_int_equal(size_of(NULL), 20);
    assert_int_equal(size_of("page_size=5"), 5);
    assert_int_equal(size_of("page_size=100"), 100);
    assert_int_equal(size_of("page_size=101"), 100);
    assert_int_equal(size_of("page_size=99999999999999999999999"), 100);
    assert_int_equal(size_of("page_size=1"), 1);
    assert_int_equal(size_of("page_size=0"), -1);
    assert_int_equal(size_of("page_size=-3"), -1);
    assert_int_equal(size_of("page_size=abc"), -1);
    assert_int_equal(size_of("page_size=5x"), -1);
    assert_int_equal(size_of("page_size=+5"), -1);
    assert_int_equal(size_of("page_size=%205"), -1);
    assert_int_equal(size_of("page_size="), -1);
    assert_int_equal(size_of("page_size=2.5"), -1);
    cfg.page_size_default = 7;
    cfg.page_size_max = 50;
    souk_cfg = &cfg;
    assert_int_equal(size_of(NULL), 7);
    assert_int_equal(size_of("page_size=60"), 50);
    souk_cfg = NULL;
}

static void test_page_size_error_names_field(void **state)
{
    struct page pg;
    struct souk_errinfo ei = {0};

    (void)state;
    assert_int_equal(parse("page_size=0&cursor=%%%", &pg, &ei), SOUK_INVALID);
    assert_non_null(json_object_get(ei.errors, "page_size"));
    assert_non_null(json_object_get(ei.errors, "cursor"));
    souk_errinfo_cleanup(&ei);
}

static char *encode_raw(const char *text)
{
    static char out[2048];
    b64url_encode(out, text, strlen(text));
    return out;
}

static int cursor_err(const char *token)
{
    char qs[2100];
    struct page pg;
    struct souk_errinfo ei = {0};
    int err;

    snprintf(qs, sizeof qs, "cursor=%s", token);
    err = parse(qs, &pg, &ei);
    if (err)
        assert_non_null(json_object_get(ei.errors, "cursor"));
    souk_errinfo_cleanup(&ei);
    return err;
}

static void test_cursor_strict(void **state)
{
    char big[600];

    (void)state;
    assert_int_equal(cursor_err(encode_raw("{\"k\":1,\"id\":\"a\"}")), 0);
    assert_int_equal(cursor_err(encode_raw("{}")), 0);
    assert_int_equal(cursor_err(""), SOUK_INVALID);             /* empty */
    assert_int_equal(cursor_err("e30="), SOUK_INVALID);         /* padded */
    assert_int_equal(cursor_err("e30*"), SOUK_INVALID);         /* not base64url */
    assert_int_equal(cursor_err("e31"), SOUK_INVALID);          /* stray bits */
    assert_int_equal(cursor_err(encode_raw("[1,2]")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("42")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("\"x\"")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("{\"k\":1")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("{} {}")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("{\"a\":1,\"a\":2}")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("{\"d\":\"x\"}")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("{\"d\":1}")), SOUK_INVALID);
    assert_int_equal(cursor_err(encode_raw("not json")), SOUK_INVALID);
    /* over 512 characters, even if well formed */
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"k\":1", 6);
    memcpy(big + 400, "}", 2);
    assert_int_equal(cursor_err(encode_raw(big)), SOUK_INVALID);
}

static void test_cursor_direction(void **state)
{
    struct http_req *req = req_with("/api/x/", NULL);
    struct page pg;
    struct souk_errinfo ei = {0};
    json_t *c = json_pack("{s:s, s:s, s:I}", "d", "p", "id", "0192", "k", (json_int_t)17);
    char qs[600];

    (void)state;
    snprintf(qs, sizeof qs, "cursor=%s&page_size=3", page_cursor_encode(req, c));
    json_decref(c);
    http_req_free(req);

    req = req_with("/api/x/", qs);
    assert_int_equal(page_parse(req, &pg, &ei), 0);
    assert_int_equal(pg.size, 3);
    assert_int_equal(pg.backwards, 1);
    assert_string_equal(json_string_value(json_object_get(pg.cursor, "id")), "0192");
    assert_int_equal(json_integer_value(json_object_get(pg.cursor, "k")), 17);
    http_req_free(req);

    assert_int_equal(cursor_err(encode_raw("{\"d\":\"n\"}")), 0);
}

static void test_cursor_encode_is_url_safe(void **state)
{
    struct http_req *req = http_req_new();
    json_t *c = json_pack("{s:s, s:i}", "k", "?&/+= \xc3\xa9~\xe2\x82\xac", "n", -1);
    char *tok;

    (void)state;
    assert_null(page_cursor_encode(req, NULL));
    tok = page_cursor_encode(req, c);
    assert_non_null(tok);
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     strlen(tok));
    json_decref(c);
    http_req_free(req);
}

static void test_envelope_links(void **state)
{
    struct souk_config cfg = {0};
    struct http_req *req = req_with("/api/v1/recipes/", "q=caf%C3%A9+au+lait&cursor=OLD&tag=a%26b&tag=c");
    json_t *env, *results = json_pack("[i,i]", 1, 2);

    (void)state;
    snprintf(cfg.public_url, sizeof cfg.public_url, "https://souk.example/");
    souk_cfg = &cfg;
    env = page_envelope(req, results, "NEXT", NULL);
    assert_string_equal(json_string_value(json_object_get(env, "next")),
                        "https://souk.example/api/v1/recipes/?q=caf%C3%A9%20au%20lait&tag=a%26b&tag=c"
                        "&cursor=NEXT");
    assert_true(json_is_null(json_object_get(env, "previous")));
    assert_ptr_equal(json_object_get(env, "results"), results);
    json_decref(env);

    env = page_envelope(req, json_array(), NULL, "PREV");
    assert_true(json_is_null(json_object_get(env, "next")));
    assert_string_equal(json_string_value(json_object_get(env, "previous")),
                        "https://souk.example/api/v1/recipes/?q=caf%C3%A9%20au%20lait&tag=a%26b&tag=c"
                        "&cursor=PREV");
    json_decref(env);
    http_req_free(req);

    /* no other parameters; a path that needs escaping */
    req = req_with("/api/tags/a b?#/", "cursor=X");
    env = page_envelope(req, NULL, "Y", "Z");
    assert_string_equal(json_string_value(json_object_get(env, "next")),
                        "https://souk.example/api/tags/a%20b%3F%23/?cursor=Y");
    assert_true(json_is_array(json_object_get(env, "results")));
    json_decref(env);
    http_req_free(req);
    souk_cfg = NULL;
}

/* Following next links page by page with the keyset recipe in pagination.c
 * over an in-memory "table" visits every row once, and previous goes back. */
static const int ROWS[] = {50, 47, 47, 40, 33, 20, 20, 20, 12, 5, 1}; /* sort key desc; id = index */
#define NROWS ((int)(sizeof ROWS / sizeof ROWS[0]))

/* row i comes after the cursor row (k, id) in display order */
static int after(int i, json_int_t k, json_int_t id)
{
    return ROWS[i] < k || (ROWS[i] == k && i > id);
}

static json_t *cursor_of(int i, const char *d)
{
    return json_pack("{s:I, s:I, s:s}", "k", (json_int_t)ROWS[i], "id", (json_int_t)i, "d", d);
}

/* One list request; returns the page's rows in out and the links. */
static int list_page(const char *qs, int *out, char **next, char **prev)
{
    struct http_req *req = req_with("/api/rows/", qs);
    struct page pg;
    struct souk_errinfo ei = {0};
    int got[64], n = 0, more, shown;

    assert_int_equal(page_parse(req, &pg, &ei), 0);
    json_int_t k = json_integer_value(json_object_get(pg.cursor, "k"));
    json_int_t id = json_integer_value(json_object_get(pg.cursor, "id"));
    if (!pg.backwards) /* forward scan, size+1 rows */
        for (int i = 0; i < NROWS && n <= pg.size; i++)
            if (!pg.cursor || after(i, k, id))
                got[n++] = i;
    if (pg.backwards) /* backward scan from the cursor, size+1 rows, reversed later */
        for (int i = NROWS - 1; i >= 0 && n <= pg.size; i--)
            if (!after(i, k, id) && !(ROWS[i] == k && i == id))
                got[n++] = i;
    more = n > pg.size;
    shown = more ? pg.size : n;
    for (int i = 0; i < shown; i++) /* display order */
        out[i] = pg.backwards ? got[shown - 1 - i] : got[i];

    json_t *nc = NULL, *pc = NULL;
    if (shown && (pg.backwards || more))
        nc = cursor_of(out[shown - 1], "n");
    if (shown && (pg.backwards ? more : pg.cursor != NULL))
        pc = cursor_of(out[0], "p");
    json_t *env = page_envelope(req, json_array(), page_cursor_encode(req, nc),
                                page_cursor_encode(req, pc));
    json_decref(nc);
    json_decref(pc);
    const char *nl = json_string_value(json_object_get(env, "next"));
    const char *pl = json_string_value(json_object_get(env, "previous"));
    *next = nl ? strdup(strstr(nl, "?") + 1) : NULL;
    *prev = pl ? strdup(strstr(pl, "?") + 1) : NULL;
    json_decref(env);
    http_req_free(req);
    return shown;
}

static void test_keyset_walk(void **state)
{
    int seen[NROWS] = {0}, rows[64], total = 0, pages = 0;
    char *qs = strdup("page_size=3"), *next, *prev, *last_prev = NULL;

    (void)state;
    while (qs) {
        int n = list_page(qs, rows, &next, &prev);
        for (int i = 0; i < n; i++) {
            assert_int_equal(rows[i], total + i); /* in order, no gaps */
            seen[rows[i]]++;
        }
        total += n;
        pages++;
        free(last_prev);
        last_prev = prev;
        free(qs);
        qs = next;
    }
    assert_int_equal(total, NROWS);
    assert_int_equal(pages, 4);
    for (int i = 0; i < NROWS; i++)
        assert_int_equal(seen[i], 1);
    /* previous from the last page gives the third page: rows 6..8 */
    assert_non_null(last_prev);
    assert_int_equal(list_page(last_prev, rows, &next, &prev), 3);
    assert_int_equal(rows[0], 6);
    assert_int_equal(rows[2], 8);
    assert_non_null(next);
    assert_non_null(prev);
    free(next);
    free(prev);
    free(last_prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_page_size_error_names_field),
        cmocka_unit_test(test_cursor_strict),
        cmocka_unit_test(test_cursor_direction),
        cmocka_unit_test(test_cursor_encode_is_url_safe),
        cmocka_unit_test(test_envelope_links),
        cmocka_unit_test(test_keyset_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
