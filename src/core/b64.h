/* b64.h - base64 (RFC 4648 section 4) and base64url (section 5).
 *
 * base64url is written without padding, as JWTs (RFC 7515) and page
 * cursors use it; standard base64 is written with padding. Decoding is
 * strict in both: a character outside the alphabet, whitespace, a length
 * that no encoder produces, padding where it does not belong (any padding
 * at all in base64url) or non-zero unused bits in the last character are
 * all refused, so that every accepted string has exactly one decoding and
 * every byte string exactly one encoding.
 *
 * The functions work on caller buffers and never allocate; they are pure
 * and thread-safe. Size the buffers with the macros (they count no NUL).
 */
#ifndef SOUK_B64_H
#define SOUK_B64_H

#include <stddef.h>

#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)       /* padded */
#define B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
#define B64_DECODED_MAX(n) (((n) / 4) * 3 + 3)         /* upper bound, both alphabets */

/* Encodes n bytes into out, which must hold B64URL_ENCODED_LEN(n) + 1
 * bytes; writes a NUL and returns the length written (without the NUL). */
size_t b64url_encode(char *out, const void *in, size_t n);
/* Decodes len characters of in into out (B64_DECODED_MAX(len) bytes).
 * Returns 0 and the decoded length in *outlen, or -1 on bad input (out
 * then holds garbage). */
int b64url_decode(void *out, size_t *outlen, const char *in, size_t len);

/* Same with the standard alphabet (+ and /) and '=' padding. */
size_t b64_encode(char *out, const void *in, size_t n);
int b64_decode(void *out, size_t *outlen, const char *in, size_t len);

#endif
