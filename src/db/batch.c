/* batch.c - the per-key sequencer of batch.h.
 *
 * One mutex guards a small hash of queues, one per key with requests waiting
 * or a transaction in flight. An item lives on its caller's (parked) fiber
 * stack; the leader touches an item only while it holds the mutex, or before
 * the item's fiber is woken (outcome and errinfo), never after.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/fiber.h"
#include "core/metrics.h"
#include "core/str.h"
#include "db/batch.h"
#include "db/db.h"

#define NBUCKETS 256
#define KEY_MAX 64

enum { WAITING, LEAD, DONE };

struct item {
    void *arg;
    struct fiber *f;
    struct souk_errinfo *ei;
    int state; /* under mu */
    int err;
    struct item *next;
};

struct queue {
    char key[KEY_MAX];
    batch_fn fn;
    struct item *head, *tail;
    int leading; /* a transaction of this key is in flight, or its leader is waking */
    struct queue *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct queue *buckets[NBUCKETS];
static pthread_once_t described = PTHREAD_ONCE_INIT;

static void describe(void)
{
    metrics_describe("souk_batch_transactions_total",
                     "Transactions run by the hot-row sequencer, by kind.");
    metrics_describe("souk_batch_requests_total",
                     "Requests applied by the hot-row sequencer, by kind (divide by "
                     "transactions for the mean batch size).");
}

struct call {
    batch_fn fn;
    void **args;
    int n;
};

static int call_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct call *c = arg;
    return c->fn(tx, c->args, c->n, ei);
}

static void count(const char *key, int n)
{
    char kind[KEY_MAX], labels[96];
    const char *colon = strchr(key, ':');
    size_t len = colon ? (size_t)(colon - key) : strlen(key);

    pthread_once(&described, describe);
    if (len >= sizeof kind)
        len = sizeof kind - 1;
    memcpy(kind, key, len);
    kind[len] = '\0';
    metrics_labels(labels, sizeof labels, "kind", kind, METRICS_END);
    metrics_counter_add("souk_batch_transactions_total", labels, 1);
    metrics_counter_add("souk_batch_requests_total", labels, n);
}

static int run_alone(struct db *db, const char *key, batch_fn fn, void *arg,
                     struct souk_errinfo *ei)
{
    void *args[1] = {arg};
    struct call c = {fn, args, 1};

    count(key, 1);
    return db_tx_run(db, call_tx, &c, ei);
}

/* Under mu. */
static struct queue **slot_of(const char *key)
{
    struct queue **p = &buckets[str_hash(key) % NBUCKETS];
    while (*p && strcmp((*p)->key, key))
        p = &(*p)->next;
    return p;
}

static void errinfo_copy(struct souk_errinfo *dst, const struct souk_errinfo *src)
{
    if (!dst || !src)
        return;
    dst->code = src->code;
    memcpy(dst->detail, src->detail, sizeof dst->detail);
    dst->retry_after = src->retry_after;
    if (src->errors && !dst->errors)
        dst->errors = json_deep_copy(src->errors);
    if (src->extra && !dst->extra)
        dst->extra = json_deep_copy(src->extra);
}

/* The leader's part: the next batch of q (me at its head), its transaction,
 * then the outcomes, the hand-over and the wake-ups. */
static int lead(struct db *db, struct queue *q, struct item *me, struct souk_errinfo *ei)
{
    struct item *items[BATCH_MAX];
    void *args[BATCH_MAX];
    struct fiber *wake[BATCH_MAX + 1];
    int n = 0, nwake = 0, err;

    pthread_mutex_lock(&mu);
    while (q->head && n < BATCH_MAX) {
        items[n] = q->head;
        args[n] = q->head->arg;
        q->head = q->head->next;
        n++;
    }
    if (!q->head)
        q->tail = NULL;
    pthread_mutex_unlock(&mu);

    struct call c = {q->fn, args, n};
    count(q->key, n);
    err = db_tx_run(db, call_tx, &c, ei);
    for (int i = 0; i < n; i++)
        if (items[i] != me) {
            items[i]->err = err;
            if (err)
                errinfo_copy(items[i]->ei, ei);
        }

    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++)
        if (items[i] != me) {
            items[i]->state = DONE;
            wake[nwake++] = items[i]->f;
        }
    if (q->head) {
        q->head->state = LEAD; /* the queue passes to the first that waits */
        wake[nwake++] = q->head->f;
    } else {
        struct queue **p = slot_of(q->key);
        *p = q->next;
        free(q);
    }
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nwake; i++)
        fiber_wake(wake[i]);
    return err;
}

int batch_run(struct db *db, const char *key, batch_fn fn, void *arg, struct souk_errinfo *ei)
{
    struct item me = {.arg = arg, .f = fiber_self(), .ei = ei, .state = WAITING};
    struct queue **p, *q;
    int state;

    /* SQLite: BEGIN IMMEDIATE already makes every writer wait its turn for
     * the whole file, and a parked request's thread may be the one holding
     * it; measured there (bench/auctions.sh), batches lost to single
     * transactions, so each request runs alone as before. */
    if (!me.f || strlen(key) >= KEY_MAX || db_dialect(db) == DB_SQLITE)
        return run_alone(db, key, fn, arg, ei);
    pthread_mutex_lock(&mu);
    p = slot_of(key);
    if (!(q = *p)) {
        if (!(q = calloc(1, sizeof *q))) {
            pthread_mutex_unlock(&mu);
            return run_alone(db, key, fn, arg, ei);
        }
        str_copy(q->key, sizeof q->key, key);
        q->fn = fn;
        *p = q;
    }
    if (q->tail)
        q->tail->next = &me;
    else
        q->head = &me;
    q->tail = &me;
    if (!q->leading) {
        q->leading = 1;
        me.state = LEAD;
    }
    state = me.state;
    pthread_mutex_unlock(&mu);

    if (state != LEAD) {
        fiber_park(); /* woken once: with the outcome, or to lead */
        pthread_mutex_lock(&mu);
        state = me.state;
        pthread_mutex_unlock(&mu);
        if (state == DONE)
            return me.err;
    }
    return lead(db, q, &me, ei);
}
