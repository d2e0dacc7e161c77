/* test_problem.c - errors to problem+json: status mapping, codes, hidden
 * details for server failures, errors/extra merged, Retry-After. */
#include "unit.h"

#include "http/internal.h"

static json_t *body_of(const struct http_req *req)
{
    json_t *j = json_loadb(req->resp_body, req->resp_len, 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *hdr(const struct http_req *req, const char *k)
{
    for (int i = 0; i < req->nresp_headers; i++)
        if (strcmp(req->resp_headers[i].key, k) == 0)
            return req->resp_headers[i].value;
    return NULL;
}

static void test_status_map(void **state)
{
    (void)state;
    static const struct {
        int err, status;
        const char *code;
    } cases[] = {
        {SOUK_INVALID, 400, "validation_error"},   {SOUK_UNAUTHENTICATED, 401, "unauthenticated"},
        {SOUK_FORBIDDEN, 403, "forbidden"},         {SOUK_NOT_FOUND, 404, "not_found"},
        {SOUK_CONFLICT, 409, "conflict"},           {SOUK_PRECONDITION, 409, "invalid_state"},
        {SOUK_UPSTREAM, 502, "upstream_error"},     {SOUK_INTERNAL, 500, "internal_error"},
        {SOUK_TOO_LARGE, 413, "payload_too_large"}, {SOUK_UNSUPPORTED, 415, "unsupported_media_type"},
        {SOUK_RATE_LIMITED, 429, "rate_limited"},   {SOUK_TOKEN_INVALID, 401, "token_invalid"},
        {SOUK_METHOD, 405, "method_not_allowed"},   {SOUK_UNAVAILABLE, 503, "unavailable"},
        {999, 500, "internal_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_req *req = http_req_new();
        assert_int_equal(http_problem(req, cases[i].err, NULL), 0);
        assert_int_equal(req->status, cases[i].status);
        assert_string_equal(req->resp_type, "application/problem+json");
        json_t *j = body_of(req);
        assert_string_equal(json_string_value(json_object_get(j, "code")), cases[i].code);
        assert_int_equal(json_integer_value(json_object_get(j, "status")), cases[i].status);
        assert_non_null(json_object_get(j, "title"));
        assert_non_null(strstr(json_string_value(json_object_get(j, "type")), cases[i].code));
        assert_string_equal(req->err_code, cases[i].code);
        json_decref(j);
        http_req_free(req);
    }
}

static void test_code_detail_errors_extra(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    struct souk_errinfo ei = {0};
    souk_fail_code(&ei, SOUK_CONFLICT, "bid_too_low", "Bid must be at least %s.", "10.00");
    souk_errinfo_field(&ei, "amount", "too low");
    ei.extra = json_pack("{s:s, s:i, s:s}", "minimum", "10.00", "status", 1, "code", "x");
    http_problem(req, SOUK_CONFLICT, &ei);
    assert_null(ei.extra); /* cleaned */
    json_t *j = body_of(req);
    assert_int_equal(req->status, 409);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "bid_too_low");
    assert_string_equal(json_string_value(json_object_get(j, "type")),
                        "https://souk.dev/problems/bid_too_low");
    assert_string_equal(json_string_value(json_object_get(j, "detail")), "Bid must be at least 10.00.");
    assert_non_null(json_object_get(json_object_get(j, "errors"), "amount"));
    assert_string_equal(json_string_value(json_object_get(j, "minimum")), "10.00");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 409); /* not overridden */
    json_decref(j);
    http_req_free(req);
}

static void test_internal_detail_hidden(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    struct souk_errinfo ei = {0};
    souk_fail(&ei, SOUK_INTERNAL, "relation \"secret_table\" does not exist");
    http_problem(req, SOUK_INTERNAL, &ei);
    assert_null(strstr(req->resp_body, "secret_table"));
    json_t *j = body_of(req);
    assert_null(json_object_get(j, "detail"));
    json_decref(j);
    http_req_free(req);
}

static void test_retry_after(void **state)
{
    (void)state;
    struct http_req *req = http_req_new();
    struct souk_errinfo ei = {.retry_after = 7};
    http_problem(req, SOUK_RATE_LIMITED, &ei);
    assert_string_equal(hdr(req, "Retry-After"), "7");
    http_req_free(req);
    req = http_req_new();
    http_problem(req, SOUK_TOKEN_INVALID, NULL);
    assert_non_null(strstr(hdr(req, "WWW-Authenticate"), "invalid_token"));
    http_req_free(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_map),
        cmocka_unit_test(test_code_detail_errors_extra),
        cmocka_unit_test(test_internal_detail_hidden),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
