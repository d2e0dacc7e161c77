/* test_b64.c - base64 / base64url: RFC 4648 vectors, the url alphabet,
 * strict rejection of malformed input, and random round trips. */
#include "unit.h"

#include <stdio.h>
#include "core/b64.h"

struct vec {
    const char *plain, *std, *url;
};

/* RFC 4648 section 10, with the url (unpadded) forms beside them. */
static const struct vec VECTORS[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        const struct vec *v = &VECTORS[i];
        size_t n = strlen(v->plain), outlen = 99;
        char enc[32];
        unsigned char dec[32];

        assert_int_equal(b64_encode(enc, v->plain, n), strlen(v->std));
        assert_string_equal(enc, v->std);
        assert_int_equal(b64url_encode(enc, v->plain, n), strlen(v->url));
        assert_string_equal(enc, v->url);
        assert_int_equal(B64_ENCODED_LEN(n), strlen(v->std));
        assert_int_equal(B64URL_ENCODED_LEN(n), strlen(v->url));

        assert_int_equal(b64_decode(dec, &outlen, v->std, strlen(v->std)), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, v->plain, n);
        assert_int_equal(b64url_decode(dec, &outlen, v->url, strlen(v->url)), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, v->plain, n);
    }
}

static void test_url_alphabet(void **state)
{
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf, 0xfe};
    char enc[16];
    unsigned char dec[16];
    size_t n;

    (void)state;
    b64_encode(enc, bytes, sizeof bytes);
    assert_string_equal(enc, "+/+//g==");
    b64url_encode(enc, bytes, sizeof bytes);
    assert_string_equal(enc, "-_-__g");
    assert_int_equal(b64url_decode(dec, &n, "-_-__g", 6), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(dec, bytes, 4);
    /* each alphabet refuses the other's two characters */
    assert_int_equal(b64url_decode(dec, &n, "+/+/", 4), -1);
    assert_int_equal(b64_decode(dec, &n, "-_-_", 4), -1);
}

static void test_rejects_bad_input(void **state)
{
    static const char *const bad_url[] = {
        "Z",        /* one character cannot encode a byte */
        "Zg==",     /* no padding in base64url */
        "Zg=",      /* partial padding */
        "Zh",       /* non-zero unused bits */
        "Zm9",      /* same, two-byte tail */
        "Zm 9v",    /* whitespace */
        "Zm9v\n",   /* newline */
        "Zm9v!",    /* outside the alphabet */
        "Zm\x80v",  /* high byte */
        "=",        /* padding alone */
    };
    static const char *const bad_std[] = {
        "Zg",       /* missing padding */
        "Zg=",      /* incomplete padding */
        "Z===",     /* too much padding */
        "====",     /* padding only */
        "Zg==Zg==", /* padding in the middle */
        "Zh==",     /* non-zero unused bits */
        "Zm9=",     /* same, two-byte tail */
        "Zm9v ",    /* trailing space */
        "Zm=v",     /* '=' inside */
    };
    unsigned char dec[32];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++)
        assert_int_equal(b64url_decode(dec, &n, bad_url[i], strlen(bad_url[i])), -1);
    for (size_t i = 0; i < sizeof bad_std / sizeof bad_std[0]; i++)
        assert_int_equal(b64_decode(dec, &n, bad_std[i], strlen(bad_std[i])), -1);
    /* an embedded NUL is outside the alphabet, not an end of string */
    assert_int_equal(b64url_decode(dec, &n, "Zm\0v", 4), -1);
}

static void test_random_round_trip(void **state)
{
    unsigned char in[300], dec[B64_DECODED_MAX(B64_ENCODED_LEN(300))];
    char enc[B64_ENCODED_LEN(300) + 1];
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % 300), len, outlen = 0;
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rand_r(&seed);

        len = b64url_encode(enc, in, n);
        assert_int_equal(len, B64URL_ENCODED_LEN(n));
        assert_int_equal(b64url_decode(dec, &outlen, enc, len), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, in, n);

        len = b64_encode(enc, in, n);
        assert_int_equal(len, B64_ENCODED_LEN(n));
        assert_int_equal(b64_decode(dec, &outlen, enc, len), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, in, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_random_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
