/* fuzz_b64.c - base64 / base64url decoding of arbitrary bytes.
 *
 * Invariants: decoding never overruns B64_DECODED_MAX; whatever decodes
 * re-encodes to exactly the input (strict decoding means one spelling per
 * byte string); and any bytes encode and decode back to themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"

static void check_decode(const char *in, size_t n, int url)
{
    unsigned char *dec = malloc(B64_DECODED_MAX(n));
    char *enc = malloc(B64_ENCODED_LEN(n) + 1);
    size_t len;

    if ((url ? b64url_decode(dec, &len, in, n) : b64_decode(dec, &len, in, n)) == 0) {
        size_t elen = url ? b64url_encode(enc, dec, len) : b64_encode(enc, dec, len);
        if (elen != n || memcmp(enc, in, n) != 0)
            abort(); /* accepted a non-canonical spelling */
    }
    free(dec);
    free(enc);
}

static void check_round_trip(const uint8_t *data, size_t n, int url)
{
    char *enc = malloc(B64_ENCODED_LEN(n) + 1);
    unsigned char *dec = malloc(B64_DECODED_MAX(B64_ENCODED_LEN(n)));
    size_t elen = url ? b64url_encode(enc, data, n) : b64_encode(enc, data, n), len = 0;

    if (elen != (url ? B64URL_ENCODED_LEN(n) : B64_ENCODED_LEN(n)) || enc[elen] != '\0')
        abort();
    if ((url ? b64url_decode(dec, &len, enc, elen) : b64_decode(dec, &len, enc, elen)) != 0)
        abort();
    if (len != n || (n && memcmp(dec, data, n) != 0))
        abort();
    free(enc);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode((const char *)data, size, 1);
    check_decode((const char *)data, size, 0);
    check_round_trip(data, size, 1);
    check_round_trip(data, size, 0);
    return 0;
}
