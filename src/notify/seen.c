/* seen.c - the ids of the events this node has handed to its streams in
 * the last NOTIFY_SEEN_KEEP_US, so that an event is delivered once whether
 * it came from this node, from Redis or from the table (the fallback poll
 * while Redis is away reads a window that overlaps what was delivered).
 *
 * A chained hash over the ids with a FIFO of insertion order: old entries
 * leave from the FIFO's head as new ones come (by age, or past
 * NOTIFY_SEEN_MAX). Thread-safe (one mutex).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "core/arena.h"
#include "notify/internal.h"

#define SEEN_BUCKETS 4096
#define NOTIFY_SEEN_MAX 65536
#define NOTIFY_SEEN_KEEP_US (120 * 1000000LL)

struct seen {
    char id[37];
    int64_t at;
    struct seen *chain, *later;
};

static struct {
    pthread_mutex_t mu;
    struct seen *bucket[SEEN_BUCKETS];
    struct seen *oldest, *newest;
    size_t n;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static unsigned hash(const char *id)
{
    return str_hash(id) % SEEN_BUCKETS;
}

static void drop_oldest(void)
{
    struct seen *e = S.oldest, **p = &S.bucket[hash(e->id)];

    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    S.oldest = e->later;
    if (!S.oldest)
        S.newest = NULL;
    S.n--;
    free(e);
}

int notify_seen_add(const char *id, int64_t now_us)
{
    unsigned h = hash(id);
    struct seen *e;

    pthread_mutex_lock(&S.mu);
    while (S.oldest && (S.n >= NOTIFY_SEEN_MAX || S.oldest->at < now_us - NOTIFY_SEEN_KEEP_US))
        drop_oldest();
    for (e = S.bucket[h]; e; e = e->chain)
        if (strcmp(e->id, id) == 0)
            break;
    if (!e) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->id, sizeof e->id, "%s", id);
        e->at = now_us;
        e->chain = S.bucket[h];
        S.bucket[h] = e;
        if (S.newest)
            S.newest->later = e;
        else
            S.oldest = e;
        S.newest = e;
        S.n++;
        e = NULL;
    }
    pthread_mutex_unlock(&S.mu);
    return e == NULL;
}

void notify_seen_clear(void)
{
    pthread_mutex_lock(&S.mu);
    while (S.oldest)
        drop_oldest();
    pthread_mutex_unlock(&S.mu);
}
