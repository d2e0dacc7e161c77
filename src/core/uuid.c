/* uuid.c - UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, then
 * random bits from libsodium. Within one process the ids are also monotonic
 * within a millisecond (a 12-bit counter in rand_a, method 1 of RFC 9562
 * section 6.2), so rows inserted in order sort in order. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/uuid.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms;
static unsigned counter;

static void format(const unsigned char b[16], char out[UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    int j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = 0;
}

static void build(int64_t ms, unsigned seq, unsigned char b[16], char out[UUID_STR_LEN])
{
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | ((seq >> 8) & 0x0f));
    b[7] = (unsigned char)(seq & 0xff);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    format(b, out);
}

void uuid_v7_at(int64_t ms, char out[UUID_STR_LEN])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    build(ms, (unsigned)(b[6] & 0x0f) << 8 | b[7], b, out);
}

void uuid_v7(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    int64_t ms = clock_now_us() / 1000;
    unsigned seq;

    randombytes_buf(b, sizeof b);
    pthread_mutex_lock(&mu);
    if (ms > last_ms) {
        last_ms = ms;
        counter = (unsigned)(b[6] & 0x03) << 8 | b[7]; /* random start, room to grow */
    } else {
        ms = last_ms;
        if (++counter > 0xfff) { /* counter exhausted: borrow the next millisecond */
            last_ms = ++ms;
            counter = 0;
        }
    }
    seq = counter;
    pthread_mutex_unlock(&mu);
    build(ms, seq, b, out);
}

int uuid_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return s[36] == 0;
}

int uuid_normalize(const char *s, char out[UUID_STR_LEN])
{
    if (!uuid_valid(s))
        return -1;
    for (int i = 0; i < 36; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[36] = 0;
    return 0;
}
