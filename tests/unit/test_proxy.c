/* test_proxy.c - SOUK_TRUSTED_PROXIES: CIDR lists (IPv4, IPv6, mapped
 * addresses), the client address behind X-Forwarded-For and Forwarded,
 * spoofed chains, X-Forwarded-Proto, and the request fields it sets. */
#include "unit.h"

#include "core/config.h"
#include "http/internal.h"
#include "http/proxy.h"

static struct proxy_list list_of(const char *spec)
{
    struct proxy_list l;
    char err[160];
    assert_int_equal(proxy_list_parse(spec, &l, err, sizeof err), 0);
    return l;
}

static void test_parse(void **state)
{
    (void)state;
    struct proxy_list l;
    char err[160];
    assert_int_equal(proxy_list_parse(NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(proxy_list_parse("10.0.0.0/8, 127.0.0.1 fd00::/8,::1", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 4);
    proxy_list_free(&l);
    const char *bad[] = {"10.0.0.0/33", "fd00::/129", "10.0.0/8", "nginx", "1.2.3.4/", "1.2.3.4/x",
                         "::1/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(proxy_list_parse(bad[i], &l, err, sizeof err), -1);
        assert_int_equal(l.n, 0);
        assert_non_null(strstr(err, "SOUK_TRUSTED_PROXIES"));
    }
}

static void test_membership(void **state)
{
    (void)state;
    struct proxy_list l = list_of("10.0.0.0/8 192.168.1.128/25 2001:db8::/32 ::1");
    assert_true(proxy_is_trusted(&l, "10.255.1.2"));
    assert_false(proxy_is_trusted(&l, "11.0.0.1"));
    assert_true(proxy_is_trusted(&l, "192.168.1.200"));
    assert_false(proxy_is_trusted(&l, "192.168.1.127"));
    assert_true(proxy_is_trusted(&l, "2001:db8:ffff::1"));
    assert_false(proxy_is_trusted(&l, "2001:db9::1"));
    assert_true(proxy_is_trusted(&l, "::1"));
    assert_false(proxy_is_trusted(&l, "::2"));
    assert_true(proxy_is_trusted(&l, "::ffff:10.1.1.1")); /* mapped = IPv4 */
    assert_false(proxy_is_trusted(&l, "garbage"));
    assert_false(proxy_is_trusted(NULL, "10.0.0.1"));
    proxy_list_free(&l);
    l = list_of("0.0.0.0/0");
    assert_true(proxy_is_trusted(&l, "203.0.113.9"));
    assert_false(proxy_is_trusted(&l, "2001:db8::1")); /* families do not mix */
    proxy_list_free(&l);
}

static void test_normalize(void **state)
{
    (void)state;
    char out[PROXY_IP_LEN];
    const char *ok[][2] = {{" 1.2.3.4 ", "1.2.3.4"},       {"1.2.3.4:8080", "1.2.3.4"},
                           {"\"[2001:DB8::1]:4711\"", "2001:db8::1"}, {"[::1]", "::1"},
                           {"::ffff:192.0.2.1", "192.0.2.1"}, {"2001:db8:0:0::5", "2001:db8::5"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(proxy_ip_normalize(ok[i][0], strlen(ok[i][0]), out), 0);
        assert_string_equal(out, ok[i][1]);
    }
    const char *bad[] = {"unknown", "_hidden", "", "1.2.3", "[::1", "1.2.3.4.5", "<script>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(proxy_ip_normalize(bad[i], strlen(bad[i]), out), -1);
}

static const char *resolve(const struct proxy_list *l, const char *peer, const char *xff,
                           const char *fwd, const char *proto, int *https)
{
    static struct proxy_result r;
    proxy_resolve(l, peer, xff, fwd, proto, &r);
    if (https)
        *https = r.https;
    return r.client;
}

static void test_xff_chains(void **state)
{
    (void)state;
    struct proxy_list l = list_of("127.0.0.1/32, 10.0.0.0/8");
    /* untrusted peer: headers ignored */
    assert_string_equal(resolve(&l, "203.0.113.5", "198.51.100.1", NULL, "https", NULL), "203.0.113.5");
    /* trusted peer, one hop */
    assert_string_equal(resolve(&l, "127.0.0.1", "198.51.100.1", NULL, NULL, NULL), "198.51.100.1");
    /* spoofed left part: the right-most untrusted hop wins */
    assert_string_equal(resolve(&l, "127.0.0.1", "6.6.6.6, 1.1.1.1, 198.51.100.1, 10.0.0.7", NULL, NULL, NULL),
                        "198.51.100.1");
    /* a client that claims to be a trusted proxy is still the right-most untrusted hop */
    assert_string_equal(resolve(&l, "127.0.0.1", "10.9.9.9, 198.51.100.2", NULL, NULL, NULL), "198.51.100.2");
    /* every hop trusted: the left-most */
    assert_string_equal(resolve(&l, "127.0.0.1", "10.0.0.1, 10.0.0.2", NULL, NULL, NULL), "10.0.0.1");
    /* garbage hop: the last believable proxy */
    assert_string_equal(resolve(&l, "127.0.0.1", "1.2.3.4, evil, 10.0.0.3", NULL, NULL, NULL), "10.0.0.3");
    assert_string_equal(resolve(&l, "127.0.0.1", "nonsense", NULL, NULL, NULL), "127.0.0.1");
    /* empty header, no header */
    assert_string_equal(resolve(&l, "127.0.0.1", "", NULL, NULL, NULL), "127.0.0.1");
    assert_string_equal(resolve(&l, "127.0.0.1", NULL, NULL, NULL, NULL), "127.0.0.1");
    /* ports and IPv6 hops */
    assert_string_equal(resolve(&l, "127.0.0.1", "[2001:db8::7]:5000", NULL, NULL, NULL), "2001:db8::7");
    /* no list: nothing is trusted */
    struct proxy_list none = {0};
    assert_string_equal(resolve(&none, "127.0.0.1", "198.51.100.1", NULL, NULL, NULL), "127.0.0.1");
    proxy_list_free(&l);
}

static void test_ipv6_peer(void **state)
{
    (void)state;
    struct proxy_list l = list_of("::1, fd00::/8");
    assert_string_equal(resolve(&l, "::1", "2001:db8::1, fd12::9", NULL, NULL, NULL), "2001:db8::1");
    assert_string_equal(resolve(&l, "fe80::1", "2001:db8::1", NULL, NULL, NULL), "fe80::1");
    assert_string_equal(resolve(&l, "::ffff:127.0.0.1", "198.51.100.1", NULL, NULL, NULL), "127.0.0.1");
    proxy_list_free(&l);
}

static void test_forwarded(void **state)
{
    (void)state;
    struct proxy_list l = list_of("127.0.0.1");
    int https = 0;
    assert_string_equal(resolve(&l, "127.0.0.1", NULL, "for=192.0.2.60;proto=https;by=203.0.113.43",
                                NULL, &https), "192.0.2.60");
    assert_int_equal(https, 1);
    assert_string_equal(resolve(&l, "127.0.0.1", NULL, "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\"",
                                NULL, &https), "2001:db8:cafe::17");
    assert_int_equal(https, 0);
    assert_string_equal(resolve(&l, "127.0.0.1", NULL, "For=unknown", NULL, NULL), "127.0.0.1");
    assert_string_equal(resolve(&l, "127.0.0.1", NULL, "by=1.2.3.4", NULL, NULL), "127.0.0.1");
    /* X-Forwarded-For wins over Forwarded */
    assert_string_equal(resolve(&l, "127.0.0.1", "198.51.100.3", "for=192.0.2.60", NULL, NULL),
                        "198.51.100.3");
    proxy_list_free(&l);
}

static void test_proto(void **state)
{
    (void)state;
    struct proxy_list l = list_of("127.0.0.1");
    int https = -1;
    resolve(&l, "127.0.0.1", NULL, NULL, "https", &https);
    assert_int_equal(https, 1);
    resolve(&l, "127.0.0.1", NULL, NULL, "HTTPS", &https);
    assert_int_equal(https, 1);
    resolve(&l, "127.0.0.1", NULL, NULL, "http", &https);
    assert_int_equal(https, 0);
    resolve(&l, "127.0.0.1", NULL, NULL, "https, http", &https); /* nearest proxy says http */
    assert_int_equal(https, 0);
    resolve(&l, "127.0.0.1", NULL, NULL, "httpsx", &https);
    assert_int_equal(https, 0);
    resolve(&l, "198.51.100.1", NULL, NULL, "https", &https); /* untrusted peer */
    assert_int_equal(https, 0);
    proxy_list_free(&l);
}

static void test_apply(void **state)
{
    (void)state;
    struct proxy_list l = list_of("127.0.0.0/8");
    struct http_req *req = http_req_new();
    http_req_add_header(req, "X-Forwarded-For", "6.6.6.6");
    http_req_add_header(req, "Host", "souk.test");
    http_req_add_header(req, "x-forwarded-for", "198.51.100.9"); /* second header: appended */
    http_req_add_header(req, "X-Forwarded-Proto", "https");
    struct souk_config *saved = souk_cfg;
    souk_cfg = NULL;
    proxy_apply(&l, req, "127.0.0.1");
    assert_string_equal(req->client_ip, "198.51.100.9");
    assert_string_equal(req->peer_ip, "127.0.0.1");
    assert_int_equal(req->https, 1);
    assert_int_equal(http_is_https(req), 1);
    assert_string_equal(http_base_url(req), "https://souk.test");
    proxy_apply(&l, req, "192.0.2.1"); /* the same headers from an untrusted peer */
    assert_string_equal(req->client_ip, "192.0.2.1");
    assert_int_equal(req->https, 0);
    assert_string_equal(http_base_url(req), "http://souk.test");
    souk_cfg = saved;
    http_req_free(req);
    proxy_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_membership),
        cmocka_unit_test(test_normalize),  cmocka_unit_test(test_xff_chains),
        cmocka_unit_test(test_ipv6_peer),  cmocka_unit_test(test_forwarded),
        cmocka_unit_test(test_proto),      cmocka_unit_test(test_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
