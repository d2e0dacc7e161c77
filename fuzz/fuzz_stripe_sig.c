/* fuzz_stripe_sig.c - the Stripe-Signature parser and verifier.
 *
 * Input: "<header>\n<body>". Invariants: parsing and verifying never crash
 * or read out of bounds; a header the verifier accepts parsed with a `t`
 * and at least one v1; a header made by stripe_sig_make for the body always
 * verifies, and no longer does once the body changes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payments/internal.h"

#define SECRET "whsec_fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const char *body, size_t len)
{
    char hdr[STRIPE_SIG_HEADER_MAX];

    stripe_sig_make(SECRET, 1700000000, body, len, hdr);
    if (len && stripe_sig_verify(hdr, body, len, SECRET, 1700000000, 300) != STRIPE_SIG_OK)
        abort();
    if (len && stripe_sig_verify(hdr, body, len - 1, SECRET, 1700000000, 300) == STRIPE_SIG_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *nl;
    const char *body;
    size_t blen;
    struct stripe_sig s;

    memcpy(buf, data, size);
    buf[size] = 0;
    nl = memchr(buf, '\n', size);
    if (nl)
        *nl = 0;
    body = nl ? nl + 1 : "";
    blen = nl ? size - (size_t)(nl + 1 - buf) : 0;
    stripe_sig_parse(buf, &s);
    enum stripe_sig_result r = stripe_sig_verify(buf, body, blen, SECRET ",whsec_two",
                                                 1700000000, 300);
    if (r == STRIPE_SIG_OK && (stripe_sig_parse(buf, &s) != 0 || s.nv1 == 0))
        abort();
    (void)stripe_sig_str(r);
    check_roundtrip(body, blen);
    free(buf);
    return 0;
}
