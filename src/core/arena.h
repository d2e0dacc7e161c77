/* arena.h - region allocator. A request allocates from its arena and never
 * frees; the whole arena goes when the response has been sent.
 * Out of memory aborts (see STYLE.md). */
#ifndef SOUK_ARENA_H
#define SOUK_ARENA_H

#include <stddef.h>
#include <stdarg.h>

struct arena;

struct arena *arena_new(size_t first_block);  /* 0: default 4 KiB */
void arena_free(struct arena *a);             /* accepts NULL */
void arena_reset(struct arena *a);            /* keep the first block, drop the rest */
void *arena_alloc(struct arena *a, size_t n); /* 16-byte aligned, uninitialised */
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);          /* NULL -> NULL */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_sprintf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap);
size_t arena_used(const struct arena *a); /* bytes handed out, for tests and metrics */

/* Allocation helpers that abort on failure, for long-lived objects. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
