/* str.h - small string helpers that several modules share: a bounded copy, one hex digit, and a
 * growable heap buffer.
 *
 * All are pure functions of their arguments (the buffer is owned by its caller); nothing is shared
 * between threads.
 */
#ifndef SOUK_STR_H
#define SOUK_STR_H

#include <stddef.h>

/* Copies s (NULL counts as "") into dst of n bytes, cut short and always NUL-terminated. */
void str_copy(char *dst, size_t n, const char *s);
/* FNV-1a of a NUL-terminated string (hash tables; not for anything an attacker must not steer). */
unsigned str_hash(const char *s);

/* The value 0..15 of one hex digit (either case), or -1 when c is not one. */
int str_hex_digit(char c);

/* A NUL-terminated heap string that grows as it is appended to. Start with {0}; the caller
 * frees p (free(NULL) when nothing was appended). Out of memory aborts (xrealloc). */
struct strbuf {
    char *p;
    size_t len, cap;
};

void strbuf_put(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);

#endif
