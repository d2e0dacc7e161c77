/* fuzz_token.c - JWT verification (src/auth/jwt.c) on arbitrary bytes.
 *
 * Invariants: jwt_verify never crashes or overreads on any input; it
 * accepts nothing signed with another key; and a token it accepts, signed
 * again from the claims it returned, verifies again to the same claims
 * (sign/verify agree). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/jwt.h"

static const char key[] = "fuzz-key-0123456789abcdef0123456789abcdef";
#define NOW INT64_C(1700000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt_claims out, again;
    char tok[JWT_MAX_LEN + 1];
    size_t n;

    if (sodium_init() < 0)
        abort();
    if (jwt_verify((const char *)data, size, key, strlen(key), NOW, 30, &out) != JWT_OK)
        return 0;
    if (jwt_verify((const char *)data, size, "other", 5, NOW, 30, &again) == JWT_OK)
        abort(); /* accepted under a different key */
    n = jwt_sign(&out, key, strlen(key), tok, sizeof tok);
    if (n && (jwt_verify(tok, n, key, strlen(key), NOW, 30, &again) != JWT_OK ||
              strcmp(again.sub, out.sub) || strcmp(again.jti, out.jti) || again.exp != out.exp))
        abort();
    return 0;
}
