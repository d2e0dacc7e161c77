/* jwt.h - JSON Web Tokens (RFC 7519) signed with HS256, and nothing else.
 *
 * souk issues exactly one kind of JWT: an access token with the header
 * {"alg":"HS256","typ":"JWT"} and the claims sub, role, jti, iat, exp.
 * Verification is deliberately narrow: the header's alg must be "HS256"
 * (so "none", HS512, RS256... are refused before any crypto), the
 * signature is compared in constant time, every claim above must be
 * present with the right JSON type, and exp/iat/nbf are checked against
 * the caller's clock with a leeway.
 *
 * Pure functions over caller buffers: thread-safe, no allocation that
 * outlives a call. libsodium must be initialised (sodium_init) first.
 */
#ifndef SOUK_AUTH_JWT_H
#define SOUK_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN 2048   /* longer tokens are refused unread */
#define JWT_CLAIM_MAX 64   /* sub, role and jti are short identifiers */

enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED = 1, /* not three base64url parts of JSON objects, or claims missing */
    JWT_BAD_ALG = 2,   /* header alg is not HS256 */
    JWT_BAD_SIG = 3,   /* signature does not match */
    JWT_EXPIRED = 4,   /* exp passed (beyond the leeway) */
    JWT_NOT_YET = 5    /* iat or nbf in the future (beyond the leeway) */
};

struct jwt_claims {
    char sub[JWT_CLAIM_MAX];
    char role[JWT_CLAIM_MAX];
    char jti[JWT_CLAIM_MAX];
    int64_t iat; /* unix seconds */
    int64_t exp; /* unix seconds */
};

/* Signs the claims into out (NUL-terminated). Returns the token length, or
 * 0 when it does not fit in outlen bytes. */
size_t jwt_sign(const struct jwt_claims *c, const void *key, size_t keylen, char *out,
                size_t outlen);

/* Verifies tok (len bytes, need not be NUL-terminated) against key at time
 * `now` (unix seconds) allowing `leeway` seconds of clock skew. Fills *out
 * only on JWT_OK. */
enum jwt_result jwt_verify(const char *tok, size_t len, const void *key, size_t keylen,
                           int64_t now, int leeway, struct jwt_claims *out);

const char *jwt_result_str(enum jwt_result r);

#endif
