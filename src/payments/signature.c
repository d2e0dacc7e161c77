/* signature.c - Stripe-Signature headers: parse, verify, produce.
 *
 * Exactly per ../shared/spec/STRIPE.md §1: the header is `key=value` items
 * joined by ','; `t` is the signing time (decimal seconds), every `v1` is a
 * lowercase-hex HMAC-SHA256 of "<t>.<raw body>" keyed with the whole
 * `whsec_...` string; any matching v1 (under any of our secrets, for
 * rotation) is valid; `v0` and unknown keys are ignored; a `t` older than
 * the tolerance is refused (future times are accepted, as the official
 * libraries do). Comparisons are constant-time on the 32 decoded bytes.
 *
 * Pure functions, no allocation: thread-safe and fuzzable
 * (fuzz/fuzz_stripe_sig.c).
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "payments/internal.h"
#include "core/str.h"

/* Lowercase hex digit value, or -1: Stripe and its libraries produce and
 * accept only lowercase, so an uppercase v1 is not a signature. */
static int lower_hex(char c)
{
    return (c >= 'A' && c <= 'F') ? -1 : str_hex_digit(c);
}

/* 64 lowercase hex chars -> 32 bytes; 0 ok, -1 not a SHA-256 hex string. */
static int hex32(const char *s, size_t n, unsigned char out[32])
{
    if (n != 64)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        int hi = lower_hex(s[2 * i]), lo = lower_hex(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Decimal seconds, digits only, at most 15 of them. */
static int parse_t(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 15)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int stripe_sig_parse(const char *header, struct stripe_sig *out)
{
    const char *p = header;

    memset(out, 0, sizeof *out);
    out->t = -1;
    if (!header)
        return -1;
    while (*p) {
        const char *end = strchr(p, ','), *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p);

        eq = memchr(p, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
            if (klen == 1 && p[0] == 't') {
                int64_t t;
                if (parse_t(eq + 1, vlen, &t) == 0) {
                    out->t = t;
                    out->t_text = p + 2;
                    out->t_len = vlen;
                }
            } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
                if (out->nv1 < STRIPE_SIG_MAX_V1 && hex32(eq + 1, vlen, out->v1[out->nv1]) == 0)
                    out->nv1++;
                out->any_v1 = 1;
            } /* v0 and anything else: ignored (downgrade protection) */
        }
        if (!end)
            break;
        p = end + 1;
    }
    return out->t >= 0 ? 0 : -1;
}

static void mac(const char *secret, const char *t, size_t tlen, const char *body, size_t len,
                unsigned char out[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, tlen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, out);
}

/* 1 when any v1 equals the MAC under this secret; every v1 is compared. */
static int match_secret(const struct stripe_sig *s, const char *secret, const char *body,
                        size_t len)
{
    unsigned char want[32];
    int ok = 0;

    mac(secret, s->t_text, s->t_len, body, len, want);
    for (int i = 0; i < s->nv1; i++)
        ok |= sodium_memcmp(want, s->v1[i], 32) == 0;
    sodium_memzero(want, sizeof want);
    return ok;
}

/* Next secret of a comma-separated list into buf; NULL at the end. */
static const char *next_secret(const char *list, char *buf, size_t bufsz)
{
    const char *end;
    size_t n;

    while (*list == ',' || *list == ' ')
        list++;
    if (!*list)
        return NULL;
    end = strchr(list, ',');
    n = end ? (size_t)(end - list) : strlen(list);
    snprintf(buf, bufsz, "%.*s", (int)n, list);
    return end ? end : list + n;
}

enum stripe_sig_result stripe_sig_verify(const char *header, const char *body, size_t len,
                                         const char *secrets, int64_t now, int tolerance)
{
    struct stripe_sig s;
    char secret[256];
    const char *rest = secrets;
    int ok = 0, nsecrets = 0;

    if (!body || len == 0)
        return STRIPE_SIG_NO_PAYLOAD;
    if (!header || !*header)
        return STRIPE_SIG_NO_HEADER;
    if (stripe_sig_parse(header, &s))
        return STRIPE_SIG_BAD_HEADER;
    if (s.nv1 == 0)
        return STRIPE_SIG_NO_V1;
    while (rest && (rest = next_secret(rest, secret, sizeof secret))) {
        nsecrets++;
        ok |= match_secret(&s, secret, body, len);
    }
    sodium_memzero(secret, sizeof secret);
    if (nsecrets == 0)
        return STRIPE_SIG_NO_SECRET;
    if (!ok)
        return STRIPE_SIG_MISMATCH;
    if (tolerance > 0 && now - s.t > tolerance)
        return STRIPE_SIG_TOO_OLD;
    return STRIPE_SIG_OK;
}

const char *stripe_sig_str(enum stripe_sig_result r)
{
    switch (r) {
    case STRIPE_SIG_OK: return "ok";
    case STRIPE_SIG_NO_PAYLOAD: return "No webhook payload was provided.";
    case STRIPE_SIG_NO_HEADER: return "No stripe-signature header value was provided.";
    case STRIPE_SIG_BAD_HEADER: return "Unable to extract timestamp and signatures from header";
    case STRIPE_SIG_NO_V1: return "No signatures found with expected scheme";
    case STRIPE_SIG_NO_SECRET: return "No webhook secret is configured";
    case STRIPE_SIG_MISMATCH:
        return "No signatures found matching the expected signature for payload";
    case STRIPE_SIG_TOO_OLD: return "Timestamp outside the tolerance zone";
    }
    return "invalid signature";
}

void stripe_sig_make(const char *secret, int64_t t, const char *body, size_t len,
                     char out[STRIPE_SIG_HEADER_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char m[32];
    char ts[24], h[65];
    int tl = snprintf(ts, sizeof ts, "%lld", (long long)t);

    mac(secret, ts, (size_t)tl, body, len, m);
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hex[m[i] >> 4];
        h[2 * i + 1] = hex[m[i] & 15];
    }
    h[64] = 0;
    snprintf(out, STRIPE_SIG_HEADER_MAX, "t=%s,v1=%s", ts, h);
}
