/* arena.c - region allocator: a chain of blocks, bump allocation,
 * everything freed at once. Not thread-safe: one request, one thread. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"

#define ALIGN 16
#define DEFAULT_BLOCK 4096

struct block {
    struct block *next;
    size_t size, used;
    _Alignas(ALIGN) unsigned char data[];
};

struct arena {
    struct block *head; /* current block; older ones follow */
    struct block *first;
    size_t total;
};

static void oom(size_t n)
{
    log_error("out of memory allocating %zu bytes", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    char *p;
    if (!s)
        return NULL;
    p = strdup(s);
    if (!p)
        oom(strlen(s));
    return p;
}

static struct block *block_new(size_t size)
{
    struct block *b = xmalloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct arena *arena_new(size_t first_block)
{
    struct arena *a = xmalloc(sizeof *a);
    a->first = a->head = block_new(first_block ? first_block : DEFAULT_BLOCK);
    a->total = 0;
    return a;
}

static void free_chain(struct block *b, struct block *stop)
{
    while (b && b != stop) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    free_chain(a->head, NULL);
    free(a);
}

void arena_reset(struct arena *a)
{
    free_chain(a->head, a->first);
    a->head = a->first;
    a->first->next = NULL;
    a->first->used = 0;
    a->total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct block *b = a->head;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;

    if (need < n)
        oom(n);
    if (b->size - b->used < need) {
        size_t size = b->size * 2;
        if (size < need)
            size = need;
        if (size > (1u << 20) && need <= (1u << 20))
            size = 1u << 20; /* growth stops at 1 MiB blocks */
        b = block_new(size);
        b->next = a->head;
        a->head = b;
    }
    p = b->data + b->used;
    b->used += need;
    a->total += need;
    return p;
}

void *arena_calloc(struct arena *a, size_t n, size_t size)
{
    void *p;
    if (size && n > SIZE_MAX / size)
        oom(SIZE_MAX);
    p = arena_alloc(a, n * size);
    memset(p, 0, n * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p;
    if (!s)
        return NULL;
    p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
{
    char small[256];
    va_list cp;
    int n;
    char *p;

    va_copy(cp, ap);
    n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0)
        return arena_strdup(a, "");
    if ((size_t)n < sizeof small)
        return arena_strndup(a, small, (size_t)n);
    p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    char *p;
    va_start(ap, fmt);
    p = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

size_t arena_used(const struct arena *a)
{
    return a->total;
}
