/* test_jwt.c - HS256 JWT signing and verification (src/auth/jwt.c), plus
 * the password policy and the denylist cache. The token in
 * test_known_vector was made by PyJWT 2.6 (jwt.encode(claims, key, "HS256")
 * with the same claims), so souk and PyJWT agree byte for byte. */
#include "unit.h"

#include <stdio.h>
#include <sodium.h>

#include "auth/denylist.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "core/b64.h"

static const char key[] = "unit-test-key-0123456789abcdef0123456789";
#define NOW INT64_C(1700000000)

static struct jwt_claims sample(void)
{
    struct jwt_claims c = {.iat = NOW, .exp = NOW + 3600};

    snprintf(c.sub, sizeof c.sub, "01890a5d-ac96-774b-bcce-b302099a8057");
    snprintf(c.role, sizeof c.role, "CUSTOMER");
    snprintf(c.jti, sizeof c.jti, "01890a5d-ac96-774b-bcce-b302099a8058");
    return c;
}

static enum jwt_result verify(const char *tok, int64_t now)
{
    struct jwt_claims out;

    return jwt_verify(tok, strlen(tok), key, strlen(key), now, 30, &out);
}

static void test_round_trip(void **state)
{
    struct jwt_claims c = sample(), out;
    char tok[1024];
    size_t n = jwt_sign(&c, key, strlen(key), tok, sizeof tok);

    (void)state;
    assert_true(n > 0);
    assert_int_equal(strlen(tok), n);
    assert_int_equal(jwt_verify(tok, n, key, strlen(key), NOW + 10, 30, &out), JWT_OK);
    assert_string_equal(out.sub, c.sub);
    assert_string_equal(out.role, "CUSTOMER");
    assert_string_equal(out.jti, c.jti);
    assert_true(out.exp == c.exp && out.iat == c.iat);
    assert_int_equal(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
}

static void test_known_vector(void **state)
{
    /* PyJWT: jwt.encode({"sub": "u1", "role": "ADMIN", "jti": "j1", "iat": 1700000000,
     * "exp": 1700003600}, key, "HS256") */
    static const char want[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsInJvbGUiOiJBRE1JTiIsImp0aSI6Im"
        "oxIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9.5F7mY6f-n1MSosFx4Yazt91xHfZq-0WFu"
        "oc3-mryD0w";
    struct jwt_claims c = {.iat = NOW, .exp = NOW + 3600}, out;
    char tok[1024];

    (void)state;
    strcpy(c.sub, "u1");
    strcpy(c.role, "ADMIN");
    strcpy(c.jti, "j1");
    assert_int_equal(jwt_verify(want, strlen(want), key, strlen(key), NOW, 30, &out), JWT_OK);
    assert_string_equal(out.sub, "u1");
    assert_true(jwt_sign(&c, key, strlen(key), tok, sizeof tok) > 0);
    assert_string_equal(tok, want);
}

static void test_expiry_and_leeway(void **state)
{
    struct jwt_claims c = sample();
    char tok[1024];

    (void)state;
    jwt_sign(&c, key, strlen(key), tok, sizeof tok);
    assert_int_equal(verify(tok, c.exp + 29), JWT_OK);
    assert_int_equal(verify(tok, c.exp + 30), JWT_EXPIRED);
    assert_int_equal(verify(tok, c.iat - 29), JWT_OK);
    assert_int_equal(verify(tok, c.iat - 31), JWT_NOT_YET);
}

static void test_wrong_key_and_tampering(void **state)
{
    struct jwt_claims c = sample();
    char tok[1024], other[1024];
    struct jwt_claims out;
    char *dot;

    (void)state;
    jwt_sign(&c, key, strlen(key), tok, sizeof tok);
    assert_int_equal(jwt_verify(tok, strlen(tok), "another key", 11, NOW, 30, &out),
                     JWT_BAD_SIG);
    /* swap in another payload, keep the signature */
    snprintf(c.role, sizeof c.role, "ADMIN");
    jwt_sign(&c, key, strlen(key), other, sizeof other);
    dot = strrchr(tok, '.');
    memcpy(strrchr(other, '.'), dot, strlen(dot) + 1);
    assert_int_equal(verify(other, NOW), JWT_BAD_SIG);
    /* flip one signature character */
    tok[strlen(tok) - 3] ^= 1;
    assert_int_not_equal(verify(tok, NOW), JWT_OK);
}

/* A token with the given header and claims JSON and a real HS256 signature. */
static void forge(const char *header, const char *claims, char out[1024])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t n = b64url_encode(out, header, strlen(header));

    out[n++] = '.';
    n += b64url_encode(out + n, claims, strlen(claims));
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, n);
    crypto_auth_hmacsha256_final(&st, mac);
    out[n++] = '.';
    b64url_encode(out + n, mac, sizeof mac);
}

static const char good_claims[] =
    "{\"sub\":\"s\",\"role\":\"ADMIN\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700003600}";

static void test_algorithms_refused(void **state)
{
    char tok[1024];

    (void)state;
    forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_OK);
    forge("{\"alg\":\"HS256\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_OK);
    forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_BAD_ALG);
    forge("{\"alg\":\"HS512\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_BAD_ALG);
    forge("{\"alg\":\"hs256\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_BAD_ALG);
    forge("{\"typ\":\"JWT\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_BAD_ALG);
    forge("{\"alg\":\"HS256\",\"alg\":\"none\"}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_MALFORMED);
    forge("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", good_claims, tok);
    assert_int_equal(verify(tok, NOW), JWT_MALFORMED);
    /* alg none with an empty signature */
    strcpy(strrchr(tok, '.') + 1, "");
    assert_int_not_equal(verify(tok, NOW), JWT_OK);
}

static void test_malformed(void **state)
{
    static const char *const claims[] = {
        "{\"role\":\"ADMIN\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700003600}",
        "{\"sub\":\"s\",\"role\":\"ADMIN\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1.7e9}",
        "{\"sub\":\"s\",\"role\":\"ADMIN\",\"jti\":\"j\",\"iat\":1700000000}",
        "{\"sub\":5,\"role\":\"ADMIN\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700003600}",
        "[1,2]",
        "not json",
    };
    char tok[1024];

    (void)state;
    for (size_t i = 0; i < sizeof claims / sizeof *claims; i++) {
        forge("{\"alg\":\"HS256\"}", claims[i], tok);
        assert_int_equal(verify(tok, NOW), JWT_MALFORMED);
    }
    assert_int_equal(verify("", NOW), JWT_MALFORMED);
    assert_int_equal(verify("a.b", NOW), JWT_MALFORMED);
    assert_int_equal(verify("a.b.c.d", NOW), JWT_MALFORMED);
    assert_int_equal(verify("..", NOW), JWT_MALFORMED);
}

static void test_sign_buffer_too_small(void **state)
{
    struct jwt_claims c = sample();
    char tok[64];

    (void)state;
    assert_int_equal(jwt_sign(&c, key, strlen(key), tok, sizeof tok), 0);
}

static void test_password_policy(void **state)
{
    (void)state;
    assert_null(password_policy_check("long enough 1"));
    assert_non_null(password_policy_check("short"));
    assert_non_null(password_policy_check("12345678901234"));
    assert_non_null(password_policy_check(""));
}

static void test_denylist(void **state)
{
    (void)state;
    denylist_init();
    assert_false(denylist_has_jti("a"));
    denylist_add_jti("a", 100);
    assert_true(denylist_has_jti("a"));
    denylist_add_user("u", 5000, 200);
    denylist_add_user("u", 4000, 150); /* keeps the larger cutoff */
    assert_int_equal(denylist_user_cutoff("u"), 5000);
    assert_int_equal(denylist_purge(150), 1);
    assert_false(denylist_has_jti("a"));
    assert_int_equal(denylist_user_cutoff("u"), 5000);
    denylist_cleanup();
    assert_int_equal(denylist_user_cutoff("u"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_known_vector),
        cmocka_unit_test(test_expiry_and_leeway),
        cmocka_unit_test(test_wrong_key_and_tampering),
        cmocka_unit_test(test_algorithms_refused),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sign_buffer_too_small),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_denylist),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
