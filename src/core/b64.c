/* b64.c - strict base64 and base64url (see b64.h for the rules).
 *
 * One encoder and one decoder serve both alphabets; `url` selects the
 * alphabet and, with it, the padding convention (url: none, standard:
 * always). Pure functions, thread-safe.
 */
#include "core/b64.h"

#include <stdint.h>

static const char STD_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(char *out, const unsigned char *in, size_t n, int url)
{
    const char *abc = url ? URL_ALPHABET : STD_ALPHABET;
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (!url) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Value of one character in the alphabet, or -1. */
static int sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes the last 2 or 3 characters (1 or 2 bytes); the bits that do not
 * make a whole byte must be zero. */
static int decode_tail(unsigned char *out, size_t *o, const char *in, size_t rem, int url)
{
    int a = sextet((unsigned char)in[0], url), b = sextet((unsigned char)in[1], url);
    int c = rem == 3 ? sextet((unsigned char)in[2], url) : 0;

    if (a < 0 || b < 0 || c < 0)
        return -1;
    if (rem == 2) {
        if (b & 15)
            return -1;
        out[(*o)++] = (unsigned char)(a << 2 | b >> 4);
        return 0;
    }
    if (c & 3)
        return -1;
    out[(*o)++] = (unsigned char)(a << 2 | b >> 4);
    out[(*o)++] = (unsigned char)((b & 15) << 4 | c >> 2);
    return 0;
}

/* `len` excludes any padding; rem = len % 4 must not be 1. */
static int decode(unsigned char *out, size_t *outlen, const char *in, size_t len, int url)
{
    size_t rem = len % 4, full = len - rem, i, o = 0;

    if (rem == 1)
        return -1;
    for (i = 0; i < full; i += 4) {
        int a = sextet((unsigned char)in[i], url), b = sextet((unsigned char)in[i + 1], url);
        int c = sextet((unsigned char)in[i + 2], url), d = sextet((unsigned char)in[i + 3], url);
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (rem && decode_tail(out, &o, in + full, rem, url))
        return -1;
    *outlen = o;
    return 0;
}

size_t b64url_encode(char *out, const void *in, size_t n)
{
    return encode(out, in, n, 1);
}

int b64url_decode(void *out, size_t *outlen, const char *in, size_t len)
{
    return decode(out, outlen, in, len, 1);
}

size_t b64_encode(char *out, const void *in, size_t n)
{
    return encode(out, in, n, 0);
}

/* Padded input: a multiple of 4 characters, at most two '=' and only at
 * the end. The padding count must be what the data length implies, which
 * decode() checks through the remainder (1 '=' -> 3 data chars, 2 -> 2). */
int b64_decode(void *out, size_t *outlen, const char *in, size_t len)
{
    size_t pad = 0;

    if (len % 4)
        return -1;
    while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
        pad++;
    return decode(out, outlen, in, len - pad, 0);
}
