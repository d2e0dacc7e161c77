/* denylist.c - a small chained hash table of revocations, see denylist.h.
 *
 * Keys are "j:<jti>" or "u:<user id>". The table has a fixed number of
 * buckets: it holds only revocations of tokens that have not expired yet
 * (at most one access-token lifetime of logouts), so it stays small, and
 * denylist_purge() (called by the poller) keeps it that way.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "auth/denylist.h"
#include "core/arena.h"

#define DENY_BUCKETS 4096
#define DENY_KEY_MAX 80

struct deny_entry {
    char key[DENY_KEY_MAX];
    int64_t cutoff_ms; /* users only */
    int64_t expires_us;
    struct deny_entry *next;
};

static struct deny_entry *buckets[DENY_BUCKETS];
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

static unsigned hash(const char *s)
{
    return str_hash(s) % DENY_BUCKETS;
}

static int make_key(char out[DENY_KEY_MAX], char kind, const char *id)
{
    int n = snprintf(out, DENY_KEY_MAX, "%c:%s", kind, id ? id : "");
    return n > 0 && n < DENY_KEY_MAX ? 0 : -1;
}

/* Caller holds the lock. */
static struct deny_entry *find(const char *key)
{
    for (struct deny_entry *e = buckets[hash(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void add(char kind, const char *id, int64_t cutoff_ms, int64_t expires_us)
{
    char key[DENY_KEY_MAX];
    struct deny_entry *e;

    if (make_key(key, kind, id))
        return; /* longer than any id we issue: cannot match a token we accept */
    pthread_rwlock_wrlock(&lock);
    e = find(key);
    if (!e) {
        unsigned h = hash(key);
        e = xcalloc(1, sizeof *e);
        memcpy(e->key, key, sizeof key);
        e->next = buckets[h];
        buckets[h] = e;
    }
    if (cutoff_ms > e->cutoff_ms)
        e->cutoff_ms = cutoff_ms;
    if (expires_us > e->expires_us)
        e->expires_us = expires_us;
    pthread_rwlock_unlock(&lock);
}

void denylist_init(void)
{
    denylist_cleanup();
}

void denylist_cleanup(void)
{
    pthread_rwlock_wrlock(&lock);
    for (int i = 0; i < DENY_BUCKETS; i++) {
        struct deny_entry *e = buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
        buckets[i] = NULL;
    }
    pthread_rwlock_unlock(&lock);
}

void denylist_add_jti(const char *jti, int64_t expires_us)
{
    add('j', jti, 0, expires_us);
}

void denylist_add_user(const char *user_id, int64_t cutoff_ms, int64_t expires_us)
{
    add('u', user_id, cutoff_ms, expires_us);
}

int denylist_has_jti(const char *jti)
{
    char key[DENY_KEY_MAX];
    int found;

    if (make_key(key, 'j', jti))
        return 0;
    pthread_rwlock_rdlock(&lock);
    found = find(key) != NULL;
    pthread_rwlock_unlock(&lock);
    return found;
}

int64_t denylist_user_cutoff(const char *user_id)
{
    char key[DENY_KEY_MAX];
    const struct deny_entry *e;
    int64_t cutoff;

    if (make_key(key, 'u', user_id))
        return 0;
    pthread_rwlock_rdlock(&lock);
    e = find(key);
    cutoff = e ? e->cutoff_ms : 0;
    pthread_rwlock_unlock(&lock);
    return cutoff;
}

long denylist_purge(int64_t now_us)
{
    long left = 0;

    pthread_rwlock_wrlock(&lock);
    for (int i = 0; i < DENY_BUCKETS; i++) {
        struct deny_entry **pp = &buckets[i];
        while (*pp) {
            struct deny_entry *e = *pp;
            if (e->expires_us < now_us) {
                *pp = e->next;
                free(e);
            } else {
                pp = &e->next;
                left++;
            }
        }
    }
    pthread_rwlock_unlock(&lock);
    return left;
}
