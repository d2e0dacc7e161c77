/* test_router.c - route matching: literals before parameters, typed UUID
 * parameters, optional trailing slash, the /api/v1/ mirror, 404 vs 405 and
 * the Allow list, HEAD as GET. */
#include "unit.h"

#include "core/arena.h"
#include "http/router.h"

#define U1 "0190a5f4-8f3c-7b2a-9c1d-123456789abc"
#define U2 "0190A5F4-8F3C-7B2A-9C1D-123456789ABD"

static int h_list(struct http_req *r) { (void)r; return 0; }
static int h_get(struct http_req *r) { (void)r; return 1; }
static int h_search(struct http_req *r) { (void)r; return 2; }
static int h_cancel(struct http_req *r) { (void)r; return 3; }
static int h_slug(struct http_req *r) { (void)r; return 4; }
static int h_health(struct http_req *r) { (void)r; return 5; }
static int h_post(struct http_req *r) { (void)r; return 6; }

struct fx {
    struct router *r;
    struct arena *a;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->r = router_new();
    f->a = arena_new(0);
    http_route(f->r, "GET", "/api/recipes/", h_list, 0, "list");
    http_route(f->r, "POST", "/api/recipes/", h_post, 0, "create");
    http_route(f->r, "GET", "/api/recipes/search/", h_search, 0, "search");
    http_route(f->r, "GET", "/api/recipes/{id}/", h_get, 0, "one");
    http_route(f->r, "POST", "/api/orders/{order_id}/items/{item_id}/cancel/", h_cancel, 0, "c");
    http_route(f->r, "GET", "/api/tags/{slug}/", h_slug, 0, "tag");
    http_route(f->r, "GET", "/healthz", h_health, ROUTE_NO_API, "health");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    router_free(f->r);
    arena_free(f->a);
    free(f);
    return 0;
}

static int call(struct fx *f, const char *m, const char *p, struct router_match *out)
{
    enum router_result rr = router_match(f->r, m, p, f->a, out);
    if (rr != ROUTER_FOUND)
        return -(int)rr;
    return out->route->fn(NULL);
}

static void test_literal_beats_param(void **state)
{
    struct router_match m;
    assert_int_equal(call(*state, "GET", "/api/recipes/search/", &m), 2);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(call(*state, "GET", "/api/recipes/" U1 "/", &m), 1);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], U1);
    assert_string_equal(m.route->tmpl, "/api/recipes/{id}/");
}

static void test_uuid_typed(void **state)
{
    struct router_match m;
    assert_int_equal(call(*state, "GET", "/api/recipes/42/", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "/api/recipes/" U2, &m), 1); /* upper case ok */
    assert_int_equal(call(*state, "POST", "/api/orders/" U1 "/items/" U2 "/cancel/", &m), 3);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[1], U2);
    assert_int_equal(call(*state, "POST", "/api/orders/" U1 "/items/x/cancel/", &m),
                     -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "/api/tags/vegan/", &m), 4); /* untyped */
    assert_string_equal(m.params[0], "vegan");
}

static void test_trailing_slash_and_mirror(void **state)
{
    struct router_match m;
    assert_int_equal(call(*state, "GET", "/api/recipes", &m), 0);
    assert_int_equal(call(*state, "GET", "/api/v1/recipes/", &m), 0);
    assert_int_equal(call(*state, "GET", "/api/v1/recipes/search", &m), 2);
    assert_int_equal(call(*state, "GET", "/healthz/", &m), 5);
    assert_int_equal(call(*state, "GET", "/api/v1/healthz", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "/api/v2/recipes/", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "/api//recipes/", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "api/recipes/", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "/", &m), -ROUTER_NOT_FOUND);
    assert_int_equal(call(*state, "GET", "", &m), -ROUTER_NOT_FOUND);
}

static void test_method_not_allowed(void **state)
{
    struct router_match m;
    assert_int_equal(call(*state, "DELETE", "/api/recipes/", &m), -ROUTER_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, POST, OPTIONS");
    assert_int_equal(call(*state, "HEAD", "/api/recipes/", &m), 0); /* HEAD as GET */
    assert_string_equal(m.route->method, "GET");
    assert_int_equal(call(*state, "OPTIONS", "/api/v1/recipes/" U1, &m), -ROUTER_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, OPTIONS");
}

static void test_route_list(void **state)
{
    struct fx *f = *state;
    struct http_route_info info[16];
    int n = http_routes(f->r, info, 16);
    assert_int_equal(n, 7);
    assert_string_equal(info[2].tmpl, "/api/recipes/search/");
    assert_string_equal(info[6].summary, "health");
    assert_int_equal(info[6].flags, ROUTE_NO_API);
    assert_int_equal(http_routes(f->r, info, 3), 3);
}

static void test_deep_and_long_paths(void **state)
{
    struct router_match m;
    char p[4096];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(p + o, sizeof p - o, "/x%d", i);
    assert_int_equal(call(*state, "GET", p, &m), -ROUTER_NOT_FOUND);
    memset(p, 'a', sizeof p - 1);
    p[0] = '/';
    p[sizeof p - 1] = '\0';
    assert_int_equal(call(*state, "GET", p, &m), -ROUTER_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_beats_param, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuid_typed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash_and_mirror, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_and_long_paths, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
