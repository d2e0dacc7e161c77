/* jwt.c - HS256 JSON Web Tokens on libsodium's HMAC-SHA-256.
 *
 * Signing: base64url(header) "." base64url(claims) "." base64url(HMAC).
 * Verifying runs in this order so that nothing is trusted before it is
 * checked: split into exactly three parts, decode and parse the header and
 * insist on alg == "HS256" (and typ == "JWT" when typ is present), then
 * recompute the HMAC and compare it with sodium_memcmp (constant time),
 * only then parse the claims. Any JSON oddity (duplicate keys, non-object,
 * wrong claim types, over-long strings) is JWT_MALFORMED.
 *
 * Thread safety: no state; safe from any thread.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/jwt.h"
#include "core/b64.h"
#include "core/json.h"

static const char jwt_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

const char *jwt_result_str(enum jwt_result r)
{
    switch (r) {
    case JWT_OK: return "ok";
    case JWT_MALFORMED: return "malformed";
    case JWT_BAD_ALG: return "bad_alg";
    case JWT_BAD_SIG: return "bad_signature";
    case JWT_EXPIRED: return "expired";
    case JWT_NOT_YET: return "not_yet_valid";
    }
    return "unknown";
}

static void hmac(const void *key, size_t keylen, const char *msg, size_t len,
                 unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

/* Appends base64url(data) at out+pos; returns the new position or 0 when
 * it does not fit (with room for the NUL). */
static size_t put_b64(char *out, size_t outlen, size_t pos, const void *data, size_t n)
{
    if (pos + B64URL_ENCODED_LEN(n) + 1 > outlen)
        return 0;
    return pos + b64url_encode(out + pos, data, n);
}

static size_t put_char(char *out, size_t outlen, size_t pos, char ch)
{
    if (!pos || pos + 2 > outlen)
        return 0;
    out[pos] = ch;
    out[pos + 1] = '\0';
    return pos + 1;
}

size_t jwt_sign(const struct jwt_claims *c, const void *key, size_t keylen, char *out,
                size_t outlen)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    json_t *claims;
    char *payload;
    size_t pos;

    claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", c->sub, "role", c->role, "jti",
                       c->jti, "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    if (!payload)
        return 0;
    pos = put_b64(out, outlen, 0, jwt_header, sizeof jwt_header - 1);
    pos = put_char(out, outlen, pos, '.');
    pos = pos ? put_b64(out, outlen, pos, payload, strlen(payload)) : 0;
    free(payload);
    if (!pos)
        return 0;
    hmac(key, keylen, out, pos, mac);
    pos = put_char(out, outlen, pos, '.');
    return pos ? put_b64(out, outlen, pos, mac, sizeof mac) : 0;
}

static enum jwt_result check_header(const char *s, size_t len)
{
    json_t *h = json_object_from_b64url(s, len);
    const char *alg, *typ;
    enum jwt_result r = JWT_OK;

    if (!h)
        return JWT_MALFORMED;
    alg = json_string_value(json_object_get(h, "alg"));
    typ = json_string_value(json_object_get(h, "typ"));
    if (!alg || strcmp(alg, "HS256") != 0)
        r = JWT_BAD_ALG;
    else if (json_object_get(h, "typ") && (!typ || strcmp(typ, "JWT") != 0))
        r = JWT_MALFORMED;
    else if (json_object_get(h, "crit")) /* no extensions understood */
        r = JWT_MALFORMED;
    json_decref(h);
    return r;
}

static enum jwt_result check_sig(const char *signed_part, size_t slen, const char *sig,
                                 size_t siglen, const void *key, size_t keylen)
{
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    unsigned char got[B64_DECODED_MAX(64)];
    size_t n;

    if (siglen == 0 || siglen > 64 || b64url_decode(got, &n, sig, siglen) || n != sizeof want)
        return JWT_BAD_SIG;
    hmac(key, keylen, signed_part, slen, want);
    return sodium_memcmp(want, got, sizeof want) == 0 ? JWT_OK : JWT_BAD_SIG;
}

static int copy_str_claim(const json_t *claims, const char *name, char out[JWT_CLAIM_MAX])
{
    const json_t *v = json_object_get(claims, name);
    size_t n;

    if (!json_is_string(v))
        return -1;
    n = json_string_length(v);
    if (n == 0 || n >= JWT_CLAIM_MAX || memchr(json_string_value(v), '\0', n))
        return -1;
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

static enum jwt_result check_claims(const char *s, size_t len, int64_t now, int leeway,
                                    struct jwt_claims *out)
{
    json_t *c = json_object_from_b64url(s, len);
    const json_t *iat, *exp, *nbf;
    enum jwt_result r = JWT_MALFORMED;

    if (!c)
        return JWT_MALFORMED;
    iat = json_object_get(c, "iat");
    exp = json_object_get(c, "exp");
    nbf = json_object_get(c, "nbf");
    if (copy_str_claim(c, "sub", out->sub) || copy_str_claim(c, "role", out->role) ||
        copy_str_claim(c, "jti", out->jti) || !json_is_integer(iat) || !json_is_integer(exp) ||
        (nbf && !json_is_integer(nbf)))
        goto done;
    out->iat = json_integer_value(iat);
    out->exp = json_integer_value(exp);
    if (out->exp + leeway <= now)
        r = JWT_EXPIRED;
    else if (out->iat > now + leeway || (nbf && json_integer_value(nbf) > now + leeway))
        r = JWT_NOT_YET;
    else
        r = JWT_OK;
done:
    json_decref(c);
    return r;
}

enum jwt_result jwt_verify(const char *tok, size_t len, const void *key, size_t keylen,
                           int64_t now, int leeway, struct jwt_claims *out)
{
    const char *dot1, *dot2;
    struct jwt_claims tmp;
    enum jwt_result r;

    if (!tok || len == 0 || len > JWT_MAX_LEN)
        return JWT_MALFORMED;
    dot1 = memchr(tok, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)))
        return JWT_MALFORMED;
    if ((r = check_header(tok, (size_t)(dot1 - tok))))
        return r;
    r = check_sig(tok, (size_t)(dot2 - tok), dot2 + 1, len - (size_t)(dot2 + 1 - tok), key,
                  keylen);
    if (r)
        return r;
    memset(&tmp, 0, sizeof tmp);
    r = check_claims(dot1 + 1, (size_t)(dot2 - dot1 - 1), now, leeway, &tmp);
    if (r == JWT_OK)
        *out = tmp;
    return r;
}
