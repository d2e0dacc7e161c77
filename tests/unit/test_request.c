/* test_request.c - query-string parser, header lookup, JSON bodies,
 * responders and the base URL. */
#include "unit.h"

#include "core/config.h"
#include "http/internal.h"

static void test_query_parse(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    const char *all[4];
    http_parse_query(req, "a=1&b=hello+world&a=2&c=%41%62%zz&d&=x&&e=&f=%");
    assert_int_equal(req->nquery, 7);
    assert_string_equal(http_query(req, "a"), "1");
    assert_string_equal(http_query(req, "b"), "hello world");
    assert_string_equal(http_query(req, "c"), "Ab%zz"); /* bad escapes kept literally */
    assert_string_equal(http_query(req, "d"), "");
    assert_string_equal(http_query(req, "e"), "");
    assert_string_equal(http_query(req, "f"), "%");
    assert_null(http_query(req, "x"));
    assert_int_equal(http_query_all(req, "a", all, 4), 2);
    assert_string_equal(all[1], "2");
    assert_int_equal(http_query_all(req, "a", all, 1), 1);
    http_parse_query(req, NULL);
    assert_int_equal(req->nquery, 0);
    http_parse_query(req, "");
    assert_int_equal(req->nquery, 0);
    http_req_free(req);
}

static void test_query_cap(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    char qs[4096];
    size_t o = 0;
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(qs + o, sizeof qs - o, "k%d=%d&", i, i);
    http_parse_query(req, qs);
    assert_int_equal(req->nquery, HTTP_MAX_QUERY);
    assert_string_equal(http_query(req, "k63"), "63");
    assert_null(http_query(req, "k64"));
    http_req_free(req);
}

static void test_headers(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    http_req_add_header(req, "Content-Type", "application/json");
    http_req_add_header(req, "X-Thing", "1");
    assert_string_equal(http_header(req, "content-type"), "application/json");
    assert_string_equal(http_header(req, "X-THING"), "1");
    assert_null(http_header(req, "Authorization"));
    for (int i = 0; i < 100; i++)
        http_req_add_header(req, "X-Many", "v");
    assert_int_equal(req->nheaders, HTTP_MAX_HEADERS);
    http_req_free(req);
}

static void set_body(struct http_req *req, const char *ct, const char *body)
{
    req->nheaders = 0;
    if (ct)
        http_req_add_header(req, "Content-Type", ct);
    req->body = body;
    req->body_len = strlen(body);
}

static void test_body_json(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    struct souk_errinfo ei = {0};
    json_t *j;

    set_body(req, NULL, "");
    assert_int_equal(http_body_json(req, &j, &ei), 0);
    assert_true(json_is_object(j) && json_object_size(j) == 0);

    set_body(req, "application/json; charset=utf-8", "{\"a\": 1}");
    assert_int_equal(http_body_json(req, &j, &ei), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);

    set_body(req, "Application/JSON", "[1,2]");
    assert_int_equal(http_body_json(req, &j, &ei), 0);

    set_body(req, "text/plain", "{}");
    assert_int_equal(http_body_json(req, &j, &ei), SOUK_UNSUPPORTED);
    souk_errinfo_cleanup(&ei);
    set_body(req, "application/jsonx", "{}");
    assert_int_equal(http_body_json(req, &j, &ei), SOUK_UNSUPPORTED);
    souk_errinfo_cleanup(&ei);
    set_body(req, NULL, "{}");
    assert_int_equal(http_body_json(req, &j, &ei), SOUK_UNSUPPORTED);
    souk_errinfo_cleanup(&ei);

    set_body(req, "application/json", "{\"a\": ");
    assert_int_equal(http_body_json(req, &j, &ei), SOUK_INVALID);
    assert_non_null(json_object_get(ei.errors, "non_field_errors"));
    souk_errinfo_cleanup(&ei);
    set_body(req, "application/json", "{\"a\": 1, \"a\": 2}");
    assert_int_equal(http_body_json(req, &j, &ei), SOUK_INVALID);
    souk_errinfo_cleanup(&ei);

    req->route_flags = ROUTE_RAW_BODY; /* no content-type check */
    set_body(req, "text/plain", "{\"b\": true}");
    assert_int_equal(http_body_json(req, &j, &ei), 0);
    http_req_free(req);
}

static void test_responders(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    http_json(req, 201, json_pack("{s:s}", "x", "y"));
    assert_int_equal(req->status, 201);
    assert_string_equal(req->resp_body, "{\"x\":\"y\"}");
    http_text(req, 200, "text/plain", "hi", 2); /* replaces, frees the JSON */
    assert_string_equal(req->resp_body, "hi");
    http_no_content(req);
    assert_int_equal(req->status, 204);
    http_set_header(req, "X-A", "1");
    http_set_header(req, "x-a", "2");
    assert_int_equal(req->nresp_headers, 1);
    assert_string_equal(req->resp_headers[0].value, "2");
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof k, "X-%d", i);
        http_set_header(req, k, "v");
    }
    assert_int_equal(req->nresp_headers, 16);
    http_req_free(req);
}

static void test_base_url(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    struct souk_config *saved = souk_cfg;
    static struct souk_config cfg;
    souk_cfg = NULL;
    assert_string_equal(http_base_url(req), "http://localhost");
    http_req_add_header(req, "Host", "example.com:8000");
    assert_string_equal(http_base_url(req), "http://example.com:8000");
    strcpy(cfg.public_url, "https://souk.example/");
    souk_cfg = &cfg;
    assert_string_equal(http_base_url(req), "https://souk.example");
    souk_cfg = saved;
    http_req_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parse), cmocka_unit_test(test_query_cap),
        cmocka_unit_test(test_headers),     cmocka_unit_test(test_body_json),
        cmocka_unit_test(test_responders),  cmocka_unit_test(test_base_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
