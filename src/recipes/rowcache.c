/* rowcache.c - recipe rows in memory, for the detail (GET /api/recipes/{id}/).
 *
 * A recipe is read far more often than it is written, so the detail takes its row from a
 * direct-mapped table of ROW_SLOTS copies, keyed by id. A copy is good while the recipes
 * generation has not moved (every recipe write, moderation hide and erasure bumps it on this
 * node at once and on every other node through the bus: recipes.c) and for at most ROW_TTL_US
 * (what a chef's renamed business, embedded in the row, may lag; and every change while the
 * bus is away). A fill that raced with a write is not stored: the generation it read before
 * the query has moved. The access decision is never cached: access.c makes it per viewer.
 *
 * Thread safety: one mutex over the table; each slot owns its strings (an arena).
 */
#include <pthread.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/str.h"
#include "db/db.h"
#include "recipes/recipes.h"

#define ROW_SLOTS  1024
#define ROW_TTL_US (INT64_C(5) * 1000000)

static struct {
    pthread_mutex_t mu;
    struct {
        struct arena *a; /* NULL: empty */
        struct recipe r;
        unsigned long gen;
        int64_t at;
    } slot[ROW_SLOTS];
} RC = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Copies r's strings into a (dst may be r itself). */
static void copy_strings(struct recipe *dst, const struct recipe *r, struct arena *a)
{
    dst->chef_name = arena_strdup(a, r->chef_name);
    dst->title = arena_strdup(a, r->title);
    dst->summary = arena_strdup(a, r->summary);
    dst->ingredients = arena_strdup(a, r->ingredients);
    dst->instructions = arena_strdup(a, r->instructions);
    dst->cuisine = arena_strdup(a, r->cuisine);
    dst->dietary = arena_strdup(a, r->dietary);
}

static int hit(unsigned s, const char *id, struct arena *a, struct recipe *out)
{
    int ok = 0;

    pthread_mutex_lock(&RC.mu);
    if (RC.slot[s].a && !strcmp(RC.slot[s].r.id, id) && RC.slot[s].gen == recipes_generation() &&
        clock_mono_us() - RC.slot[s].at < ROW_TTL_US) {
        *out = RC.slot[s].r;
        copy_strings(out, &RC.slot[s].r, a);
        ok = 1;
    }
    pthread_mutex_unlock(&RC.mu);
    return ok;
}

static void store(unsigned s, const struct recipe *r, unsigned long gen)
{
    struct arena *a = arena_new(0), *old;

    pthread_mutex_lock(&RC.mu);
    if (gen != recipes_generation()) { /* written meanwhile: the row may be older than that */
        pthread_mutex_unlock(&RC.mu);
        arena_free(a);
        return;
    }
    old = RC.slot[s].a;
    RC.slot[s].r = *r;
    copy_strings(&RC.slot[s].r, r, a);
    RC.slot[s].a = a;
    RC.slot[s].gen = gen;
    RC.slot[s].at = clock_mono_us();
    pthread_mutex_unlock(&RC.mu);
    arena_free(old);
}

int recipes_get_cached(struct db_conn *c, const char *id, struct arena *a, struct recipe *out,
                       struct souk_errinfo *ei)
{
    unsigned s = str_hash(id) % ROW_SLOTS;
    unsigned long gen = recipes_generation();
    int err;

    if (hit(s, id, a, out))
        return 0;
    if ((err = recipes_get(c, id, a, out, ei)))
        return err;
    store(s, out, gen);
    return 0;
}
