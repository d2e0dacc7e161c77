/* cache.c - which chefs a user's subscriptions open, without a query.
 *
 * An entry per user holds their grants (chef, plan rank, and until when the
 * grant holds: period end for a pending cancel, grace_until for past_due,
 * period end + grace for an active one, which the jobs move on before
 * then). A check reads the entry under a read lock and compares `until`
 * with the clock, so a grant also ends on time by itself.
 *
 * Invalidation: every transition calls subscriptions_cache_invalidate()
 * after its commit: the entry goes on this node at once, and the user id is
 * published on the bus (core/bus.h, topic CACHE_TOPIC: Redis pub/sub when
 * SOUK_REDIS_URL is set) for every other node. A fill that raced
 * with an invalidation is not stored (the global generation moved).
 * Entries also age out: after CACHE_TTL_BUS_US while the bus is connected,
 * after CACHE_TTL_LOCAL_US otherwise (no Redis, or Redis is away: other
 * nodes' changes then show within that time). A bus that reconnects clears
 * the whole cache, since messages may have been missed.
 *
 * Thread safety: a rwlock guards the table; counters are atomic.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/bus.h"
#include "db/db.h"
#include "subscriptions/internal.h"
#include "subscriptions/subscriptions.h"

#define CACHE_BUCKETS      4096
#define CACHE_MAX_ENTRIES  200000
#define CACHE_TTL_BUS_US   (INT64_C(60) * 1000000)
#define CACHE_TTL_LOCAL_US (INT64_C(2) * 1000000)
#define CACHE_TOPIC        "subscriptions"

struct grant {
    char chef_id[37];
    int rank;
    int64_t until; /* wall clock, microseconds */
};

struct entry {
    char user_id[37];
    int64_t loaded_mono;
    int n;
    struct grant *g;
    struct entry *next;
};

static struct {
    pthread_rwlock_t lock;
    struct entry *b[CACHE_BUCKETS];
    long count;
    atomic_ulong gen;
    atomic_long hits, misses;
} C = {.lock = PTHREAD_RWLOCK_INITIALIZER};

int64_t subs_grace_us(void)
{
    return (int64_t)(souk_cfg ? souk_cfg->grace_seconds : 259200) * 1000000;
}

void subs_cache_stats(long *hits, long *misses)
{
    *hits = atomic_load(&C.hits);
    *misses = atomic_load(&C.misses);
}

static unsigned bucket(const char *user_id)
{
    return str_hash(user_id) % CACHE_BUCKETS;
}

static void entry_free(struct entry *e)
{
    if (e) {
        free(e->g);
        free(e);
    }
}

/* ---- the table ----------------------------------------------------------------- */

/* Unlinks the user's entry; caller holds the write lock. */
static void unlink_user(const char *user_id)
{
    struct entry **pp = &C.b[bucket(user_id)];

    while (*pp) {
        struct entry *e = *pp;
        if (strcmp(e->user_id, user_id) == 0) {
            *pp = e->next;
            entry_free(e);
            C.count--;
            return;
        }
        pp = &e->next;
    }
}

static void clear_all_locked(void)
{
    for (int i = 0; i < CACHE_BUCKETS; i++) {
        while (C.b[i]) {
            struct entry *e = C.b[i];
            C.b[i] = e->next;
            entry_free(e);
        }
    }
    C.count = 0;
}

static void clear_all(void)
{
    pthread_rwlock_wrlock(&C.lock);
    atomic_fetch_add(&C.gen, 1);
    clear_all_locked();
    pthread_rwlock_unlock(&C.lock);
}

void subs_cache_drop_local(const char *user_id)
{
    pthread_rwlock_wrlock(&C.lock);
    atomic_fetch_add(&C.gen, 1);
    unlink_user(user_id);
    pthread_rwlock_unlock(&C.lock);
}

/* 1 and *rank when the user has a fresh entry. Read lock. */
static int lookup(const char *user_id, const char *chef_id, int64_t now, int *rank)
{
    int64_t ttl = bus_connected() ? CACHE_TTL_BUS_US : CACHE_TTL_LOCAL_US;
    int found = 0;

    pthread_rwlock_rdlock(&C.lock);
    for (struct entry *e = C.b[bucket(user_id)]; e; e = e->next) {
        if (strcmp(e->user_id, user_id))
            continue;
        if (clock_mono_us() - e->loaded_mono < ttl) {
            found = 1;
            for (int i = 0; i < e->n; i++)
                if (strcmp(e->g[i].chef_id, chef_id) == 0 && e->g[i].until > now &&
                    e->g[i].rank > *rank)
                    *rank = e->g[i].rank;
        }
        break;
    }
    pthread_rwlock_unlock(&C.lock);
    return found;
}

static void store(struct entry *e, unsigned long gen)
{
    pthread_rwlock_wrlock(&C.lock);
    if (atomic_load(&C.gen) != gen) { /* invalidated while we read: do not keep */
        pthread_rwlock_unlock(&C.lock);
        entry_free(e);
        return;
    }
    unlink_user(e->user_id);
    if (C.count >= CACHE_MAX_ENTRIES)
        clear_all_locked();
    e->next = C.b[bucket(e->user_id)];
    C.b[bucket(e->user_id)] = e;
    C.count++;
    pthread_rwlock_unlock(&C.lock);
}

/* ---- filling from the database ------------------------------------------------------ */

static int64_t grant_until(const char *status, int cancel, int64_t end, int64_t grace_until)
{
    if (strcmp(status, "past_due") == 0)
        return grace_until;
    return cancel ? end : end + subs_grace_us();
}

static int load(struct db_conn *c, const char *user_id, struct entry **out, struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    struct entry *e;
    int err = db_query(c,
                       "SELECT s.chef_id, p.rank, s.status, s.cancel_at_period_end, "
                       "s.current_period_end, s.grace_until FROM subscriptions s JOIN plans p "
                       "ON p.id = s.plan_id WHERE s.user_id = $1 AND s.status IN "
                       "('active', 'past_due')",
                       DB_PARAMS(DBT(user_id)), &res, ei);

    if (err)
        return err;
    e = xcalloc(1, sizeof *e);
    snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
    e->loaded_mono = clock_mono_us();
    e->n = db_nrows(res);
    e->g = xcalloc((size_t)(e->n ? e->n : 1), sizeof *e->g);
    for (int i = 0; i < e->n; i++) {
        snprintf(e->g[i].chef_id, sizeof e->g[i].chef_id, "%s", db_get(res, i, 0));
        e->g[i].rank = (int)db_int(res, i, 1);
        e->g[i].until = grant_until(db_get(res, i, 2), db_bool(res, i, 3), db_int(res, i, 4),
                                    db_int(res, i, 5));
    }
    db_res_free(res);
    *out = e;
    return 0;
}

int subscriptions_grant_rank(struct db_conn *c, const char *user_id, const char *chef_id, int *rank,
                             struct souk_errinfo *ei)
{
    int64_t now = clock_now_us();
    unsigned long gen;
    struct entry *e;
    int err;

    *rank = 0;
    if (lookup(user_id, chef_id, now, rank)) {
        atomic_fetch_add(&C.hits, 1);
        return 0;
    }
    atomic_fetch_add(&C.misses, 1);
    gen = atomic_load(&C.gen);
    if ((err = load(c, user_id, &e, ei)))
        return err;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->g[i].chef_id, chef_id) == 0 && e->g[i].until > now && e->g[i].rank > *rank)
            *rank = e->g[i].rank;
    store(e, gen);
    return 0;
}

/* ---- other nodes: the bus ------------------------------------------------------------- */

void subscriptions_cache_invalidate(const char *user_id)
{
    subs_cache_drop_local(user_id);
    bus_publish(CACHE_TOPIC, user_id);
}

static void on_bus_msg(const char *user_id, void *arg)
{
    (void)arg;
    if (strlen(user_id) < 37)
        subs_cache_drop_local(user_id);
}

static void on_bus_reset(void *arg)
{
    (void)arg;
    clear_all();
}

int subs_cache_start(struct souk_errinfo *ei)
{
    if (bus_topic(CACHE_TOPIC, on_bus_msg, on_bus_reset, NULL))
        return souk_fail(ei, SOUK_INTERNAL, "subscriptions: no room on the bus");
    return 0;
}

void subs_cache_stop(void)
{
    clear_all();
}
