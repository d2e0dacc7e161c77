/* ratelimit.c - token buckets and fixed-window counters keyed by string.
 *
 * Two kinds of limits share one store:
 *   - token buckets (ratelimit_take): `burst` tokens, refilled at
 *     `per_second`; a request takes one token or is refused with the
 *     seconds until one is back (the per-client-address request limit);
 *   - fixed windows (ratelimit_hit/count/reset): a counter that starts at
 *     the first hit and vanishes `window` seconds later (login throttling).
 *
 * Where they live: with a Redis URL (ratelimit_init), in Redis, so that
 * every souk node shares the limits (ratelimit_redis.c). Whenever Redis
 * cannot answer, the call is served from the in-process store below and
 * a warning is logged: a rate limiter must never take the site down.
 *
 * The in-process store is a hash table split into RL_STRIPES stripes, each
 * with its own mutex and chains, so threads limiting different keys rarely
 * wait for each other. Memory stays bounded: when a stripe reaches
 * RL_STRIPE_CAP entries, a sweep drops the entries that carry no state
 * (a bucket that has refilled to full, a window that has expired; dropping
 * them changes no answer), and if the stripe is still over 3/4 full, the
 * least recently used entries go until it is half full (under a flood of
 * distinct keys some clients then get a fresh bucket: the table, not the
 * limit, is what must stay bounded). Sweeps thus run at most once per
 * RL_STRIPE_CAP/4 insertions into a stripe.
 *
 * Time is the monotonic clock (clock_mono_us). Thread-safe, except that
 * ratelimit_init and ratelimit_shutdown must not run concurrently with
 * anything else (call them at start and stop).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/ratelimit_redis.h"

#define RL_STRIPES 32
#define RL_CHAINS 512
#define RL_STRIPE_CAP 2048 /* 65536 entries in all */

enum { KIND_BUCKET, KIND_WINDOW };

struct entry {
    struct entry *next;
    uint64_t hash;
    int kind;
    double tokens;      /* bucket */
    double rate;        /* bucket: tokens per second */
    int burst;          /* bucket */
    long count;         /* window */
    int64_t stamp_us;   /* bucket: last refill; window: end of the window */
    int64_t touched_us; /* last use, for eviction */
    char key[];
};

struct stripe {
    pthread_mutex_t mu;
    size_t n;
    struct entry *chains[RL_CHAINS];
};

static struct stripe stripes[RL_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;
static int use_redis;
static _Atomic int64_t last_evict_warn_us;

static void stripes_init(void)
{
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_init(&stripes[i].mu, NULL);
}

static uint64_t hash_key(const char *s, int kind)
{
    uint64_t h = 14695981039346656037ULL ^ (uint64_t)kind; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- the table (callers hold the stripe's mutex) ---------------------------- */

/* 1 when dropping e would change no answer: a bucket refilled to full, or
 * an expired window. */
static int entry_idle(const struct entry *e, int64_t now)
{
    if (e->kind == KIND_WINDOW)
        return now >= e->stamp_us;
    return e->tokens + (double)(now - e->stamp_us) / 1e6 * e->rate >= e->burst;
}

/* Unlinks and frees every entry for which drop() says so, or, with
 * drop NULL, every entry touched at or before `before`. */
static void stripe_drop(struct stripe *st, int64_t now, int (*drop)(const struct entry *, int64_t),
                        int64_t before)
{
    for (int c = 0; c < RL_CHAINS; c++) {
        struct entry **pp = &st->chains[c];
        while (*pp) {
            struct entry *e = *pp;
            if (drop ? drop(e, now) : e->touched_us <= before) {
                *pp = e->next;
                free(e);
                st->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static int64_t stripe_mean_touched(const struct stripe *st)
{
    double sum = 0;
    for (int c = 0; c < RL_CHAINS; c++)
        for (const struct entry *e = st->chains[c]; e; e = e->next)
            sum += (double)e->touched_us;
    return st->n ? (int64_t)(sum / (double)st->n) : 0;
}

static void stripe_sweep(struct stripe *st, int64_t now)
{
    stripe_drop(st, now, entry_idle, 0);
    if (st->n <= RL_STRIPE_CAP * 3 / 4)
        return;
    /* Each pass drops at least the least recently used entry. */
    while (st->n > RL_STRIPE_CAP / 2)
        stripe_drop(st, now, NULL, stripe_mean_touched(st));
    int64_t last = atomic_load(&last_evict_warn_us);
    if (now - last > 60 * 1000000LL && atomic_compare_exchange_strong(&last_evict_warn_us, &last, now))
        log_warn("ratelimit: table full of active keys; evicting least recently used ones");
}

static struct entry *stripe_find(struct stripe *st, uint64_t h, int kind, const char *key)
{
    for (struct entry *e = st->chains[h % RL_CHAINS]; e; e = e->next)
        if (e->hash == h && e->kind == kind && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Finds the entry for (kind, key) or adds a zeroed one; locks its stripe,
 * which the caller unlocks with pthread_mutex_unlock(&(*st)->mu). */
static struct entry *entry_get(const char *key, int kind, int64_t now, struct stripe **stp)
{
    uint64_t h = hash_key(key, kind);
    struct stripe *st = &stripes[(h >> 32) % RL_STRIPES];
    struct entry *e;
    size_t len = strlen(key);

    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_lock(&st->mu);
    *stp = st;
    if ((e = stripe_find(st, h, kind, key)))
        return e;
    if (st->n >= RL_STRIPE_CAP)
        stripe_sweep(st, now);
    e = xcalloc(1, sizeof *e + len + 1);
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->kind = kind;
    e->next = st->chains[h % RL_CHAINS];
    st->chains[h % RL_CHAINS] = e;
    st->n++;
    return e;
}

/* ---- in-process limits ------------------------------------------------------ */

static int local_take(const char *key, double rate, int burst, int *retry_after)
{
    int64_t now = clock_mono_us();
    struct stripe *st;
    struct entry *e = entry_get(key, KIND_BUCKET, now, &st);
    int rc = 0;

    if (!e->touched_us || e->rate != rate || e->burst != burst) {
        /* new, or the limit changed: start full */
        e->tokens = burst;
        e->rate = rate;
        e->burst = burst;
    } else if (now > e->stamp_us) {
        e->tokens = fmin((double)burst, e->tokens + (double)(now - e->stamp_us) / 1e6 * rate);
    }
    e->stamp_us = now;
    e->touched_us = now;
    if (e->tokens >= 1) {
        e->tokens -= 1;
        *retry_after = 0;
    } else {
        *retry_after = (int)fmax(1.0, ceil((1 - e->tokens) / rate));
        rc = SOUK_RATE_LIMITED;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int ttl_seconds(int64_t end_us, int64_t now)
{
    return end_us > now ? (int)((end_us - now + 999999) / 1000000) : 0;
}

static long local_hit(const char *key, int window, int *ttl)
{
    int64_t now = clock_mono_us();
    struct stripe *st;
    struct entry *e = entry_get(key, KIND_WINDOW, now, &st);
    long n;

    if (now >= e->stamp_us) { /* new or expired: a new window */
        e->count = 0;
        e->stamp_us = now + (int64_t)window * 1000000;
    }
    e->touched_us = now;
    n = ++e->count;
    *ttl = ttl_seconds(e->stamp_us, now);
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* Looks an entry up without creating it; NULL (and no lock held) if absent. */
static struct entry *entry_peek(const char *key, int kind, struct stripe **stp)
{
    uint64_t h = hash_key(key, kind);
    struct stripe *st = &stripes[(h >> 32) % RL_STRIPES];
    struct entry *e;

    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_lock(&st->mu);
    if (!(e = stripe_find(st, h, kind, key)))
        pthread_mutex_unlock(&st->mu);
    *stp = st;
    return e;
}

static long local_count(const char *key, int *ttl)
{
    int64_t now = clock_mono_us();
    struct stripe *st;
    struct entry *e = entry_peek(key, KIND_WINDOW, &st);
    long n = 0;

    *ttl = 0;
    if (!e)
        return 0;
    if (now < e->stamp_us) {
        n = e->count;
        *ttl = ttl_seconds(e->stamp_us, now);
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void local_reset(const char *key)
{
    struct stripe *st;
    struct entry *e = entry_peek(key, KIND_WINDOW, &st);

    if (!e)
        return;
    e->stamp_us = 0; /* expired: the next sweep frees it */
    e->count = 0;
    pthread_mutex_unlock(&st->mu);
}

/* ---- public API ----------------------------------------------------------- */

int ratelimit_init(const char *redis_url)
{
    pthread_once(&stripes_once, stripes_init);
    if (!redis_url || !*redis_url)
        return 0;
    if (ratelimit_redis_open(redis_url))
        return -1;
    use_redis = 1;
    return 0;
}

void ratelimit_shutdown(void)
{
    if (use_redis)
        ratelimit_redis_close();
    use_redis = 0;
    pthread_once(&stripes_once, stripes_init);
    for (int i = 0; i < RL_STRIPES; i++) {
        pthread_mutex_lock(&stripes[i].mu);
        stripe_drop(&stripes[i], 0, NULL, INT64_MAX);
        pthread_mutex_unlock(&stripes[i].mu);
    }
}

/* per_second <= 0 switches the limit off; burst below 1 counts as 1. */
int ratelimit_take(const char *key, double per_second, int burst, int *retry_after)
{
    int wait;

    *retry_after = 0;
    if (!(per_second > 0))
        return 0;
    if (burst < 1)
        burst = 1;
    if (use_redis && ratelimit_redis_take(key, per_second, burst, &wait) == 0) {
        *retry_after = wait;
        return wait ? SOUK_RATE_LIMITED : 0;
    }
    return local_take(key, per_second, burst, retry_after);
}

/* window < 1 counts as 1 second. */
long ratelimit_hit(const char *key, int window, int *ttl)
{
    long n;

    if (window < 1)
        window = 1;
    if (use_redis && ratelimit_redis_hit(key, window, &n, ttl) == 0)
        return n;
    return local_hit(key, window, ttl);
}

long ratelimit_count(const char *key, int *ttl)
{
    long n;

    if (use_redis && ratelimit_redis_count(key, &n, ttl) == 0)
        return n;
    return local_count(key, ttl);
}

/* Clears the window counter of key (a successful login); buckets stay. */
void ratelimit_reset(const char *key)
{
    if (use_redis)
        ratelimit_redis_reset(key);
    local_reset(key); /* also the in-process copy a past outage may have left */
}
