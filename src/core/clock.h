/* clock.h - time in souk is int64 microseconds since the Unix epoch, UTC.
 * That is also how it is stored (BIGINT columns named *_at) in both
 * dialects; it goes out as RFC 3339 with microseconds. */
#ifndef SOUK_CLOCK_H
#define SOUK_CLOCK_H

#include <stdint.h>
#include <stddef.h>

#define CLOCK_RFC3339_LEN 28 /* "2026-01-13T15:30:00.123456Z" + NUL */

int64_t clock_now_us(void);      /* wall clock */
int64_t clock_mono_us(void);     /* monotonic, for durations */
/* Test hook: a non-zero offset is added to clock_now_us() (souk's own clock
 * only; SOUK_CLOCK_OFFSET_SECONDS in the environment sets it at start). */
void clock_set_offset_us(int64_t off);
void clock_format(int64_t us, char out[CLOCK_RFC3339_LEN]);
/* Accepts RFC 3339 with 'Z' or +hh:mm offset, 0-9 fraction digits. 0 ok, -1 bad. */
int clock_parse(const char *s, int64_t *us);

#endif
