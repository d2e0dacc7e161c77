/* replica.c - reads that may lag go to a hot standby, and a writer still reads its writes.
 *
 * db_replica_attach gives a PostgreSQL pool a second pool on a streaming-replication standby.
 * db_read_pool(db, who) picks, for one read by caller `who`:
 *  - the primary when the replica failed within the last REPLICA_DOWN_US (db_run on the
 *    replica's pool runs a read that could not be answered there again on the primary, and
 *    tells us), or when `who` wrote something the standby has not replayed yet;
 *  - the replica otherwise, anonymous callers included.
 *
 * Read-your-writes, by WAL position (LSN), not by a delay: after a request of `who` that may
 * have written, db_note_write asks the primary for pg_current_wal_insert_lsn() (past its
 * commit record, even with synchronous_commit off, when the record may not be written yet) and
 * keeps the position for `who`:
 *  - on this node, in WRITER_SLOTS atomic positions indexed by a hash of `who` (two callers
 *    sharing a slot only means one of them reads from the primary a little longer);
 *  - with Redis, under souk:rlsn:<who> for RLSN_TTL_MS, raised and never lowered, so that the
 *    writer's next read on any node knows it.
 * A read compares that position with the highest replay position seen on the standby
 * (pg_last_wal_replay_lsn()), asked again only when the one known is not enough. When Redis
 * cannot be asked, a signed-in read goes to the primary: a writer never reads stale data.
 *
 * Thread safety: positions and states are atomics; each Redis connection of the small pool
 * has its own mutex, and a caller takes the first one free.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "core/str.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/redis.h"
#include "db/internal.h"

#define WRITER_SLOTS    65536
#define REDIS_CONNS     8
#define REDIS_DOWN_US   (INT64_C(1) * 1000000)
#define REPLICA_DOWN_US (INT64_C(2) * 1000000)
#define RLSN_TTL_MS     60000
#define RLSN_PREFIX     "souk:rlsn:"

/* Sets KEYS[1] to ARGV[1] unless it holds a higher position already. */
#define RLSN_RAISE                                                                           \
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0') "                                \
    "if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end " \
    "return 1"

struct rconn {
    pthread_mutex_t mu;
    redisContext *c;
};

struct db_replica {
    struct db *pool;
    _Atomic uint64_t replayed;   /* highest replay position seen on the standby */
    _Atomic int64_t down_until;  /* monotonic µs: reads go to the primary until then */
    atomic_int down;             /* 1 while known down (logged once per outage) */
    _Atomic uint64_t writer[WRITER_SLOTS];
    int redis_on;
    struct redis_url url;
    _Atomic int64_t redis_down_until;
    atomic_uint next;
    struct rconn rc[REDIS_CONNS];
};

/* ---- positions ------------------------------------------------------------------------ */

/* "16/B374D848" -> 0x16B374D848; 0 for NULL or anything else. */
static uint64_t lsn_parse(const char *s)
{
    unsigned hi, lo;

    if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2)
        return 0;
    return ((uint64_t)hi << 32) | lo;
}

static int lsn_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const char *sql = ((const char **)arg)[0];
    uint64_t *out = ((uint64_t **)arg)[1];
    struct db_res *r;
    int err = db_conn_query(c, sql, DB_NOPARAMS, &r, NULL, ei);

    if (err)
        return err;
    *out = db_nrows(r) ? lsn_parse(db_get(r, 0, 0)) : 0;
    db_res_free(r);
    return 0;
}

static int lsn_read(struct db *pool, const char *sql, uint64_t *out, struct souk_errinfo *ei)
{
    const void *arg[2] = {sql, out};

    *out = 0;
    return db_run_here(pool, lsn_fn, (void *)arg, ei);
}

static void atomic_raise(_Atomic uint64_t *at, uint64_t v)
{
    uint64_t cur = atomic_load(at);

    while (cur < v && !atomic_compare_exchange_weak(at, &cur, v))
        ;
}

static unsigned slot_of(const char *who)
{
    return str_hash(who) % WRITER_SLOTS;
}

/* Asks the standby for its replay position. 0 ok; -1 when it did not answer (then marked
 * failed: reads go to the primary for a while). */
static int replay_refresh(struct db_replica *r)
{
    struct souk_errinfo ei = {0};
    uint64_t v = 0;
    int err = lsn_read(r->pool, "SELECT pg_last_wal_replay_lsn()::text", &v, &ei);

    if (err == 0)
        atomic_raise(&r->replayed, v);
    else
        db_replica_failed(r->pool->primary, err, ei.detail);
    souk_errinfo_cleanup(&ei);
    return err ? -1 : 0;
}

/* ---- Redis ------------------------------------------------------------------------------ */

static struct rconn *rconn_take(struct db_replica *r)
{
    unsigned start = atomic_fetch_add(&r->next, 1) % REDIS_CONNS;

    for (unsigned i = 0; i < REDIS_CONNS; i++) {
        struct rconn *rc = &r->rc[(start + i) % REDIS_CONNS];

        if (pthread_mutex_trylock(&rc->mu) == 0)
            return rc;
    }
    pthread_mutex_lock(&r->rc[start].mu);
    return &r->rc[start];
}

/* Runs one command; NULL (the connection dropped, Redis skipped for a second) on failure. */
static redisReply *rcommand(struct db_replica *r, int argc, const char **argv)
{
    struct rconn *rc;
    redisReply *rep = NULL;

    if (clock_mono_us() < atomic_load(&r->redis_down_until))
        return NULL;
    rc = rconn_take(r);
    if (!rc->c)
        rc->c = redis_open(&r->url, 200, 200, NULL, 0);
    if (rc->c)
        rep = redisCommandArgv(rc->c, argc, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep)
            freeReplyObject(rep);
        rep = NULL;
        if (rc->c)
            redisFree(rc->c);
        rc->c = NULL;
        atomic_store(&r->redis_down_until, clock_mono_us() + REDIS_DOWN_US);
        log_warn("db: replica: redis did not answer; signed-in reads go to the primary");
    }
    pthread_mutex_unlock(&rc->mu);
    return rep;
}

/* The position Redis holds for who: 0 when none, -1 when Redis cannot be asked. */
static int64_t redis_position(struct db_replica *r, const char *who)
{
    char key[96];
    const char *argv[] = {"GET", key};
    redisReply *rep;
    int64_t v;

    snprintf(key, sizeof key, RLSN_PREFIX "%s", who);
    if (!(rep = rcommand(r, 2, argv)))
        return -1;
    v = rep->type == REDIS_REPLY_STRING ? (int64_t)strtoull(rep->str, NULL, 10) : 0;
    freeReplyObject(rep);
    return v;
}

static void redis_raise(struct db_replica *r, const char *who, uint64_t lsn)
{
    char key[96], val[24], ttl[16];
    const char *argv[] = {"EVAL", RLSN_RAISE, "1", key, val, ttl};
    redisReply *rep;

    snprintf(key, sizeof key, RLSN_PREFIX "%s", who);
    snprintf(val, sizeof val, "%" PRIu64, lsn);
    snprintf(ttl, sizeof ttl, "%d", RLSN_TTL_MS);
    if ((rep = rcommand(r, 6, argv)))
        freeReplyObject(rep);
}

/* ---- public ----------------------------------------------------------------------------- */

int db_replica_attach(struct db *db, const char *url, int size, const char *redis_url,
                      struct souk_errinfo *ei)
{
    struct db_replica *r;
    int err;

    if (db_dialect(db) != DB_PGSQL || !url ||
        (strncmp(url, "postgres://", 11) && strncmp(url, "postgresql://", 13)))
        return souk_fail(ei, SOUK_INVALID,
                         "SOUK_DATABASE_REPLICA_URL: a PostgreSQL URL, for a PostgreSQL primary");
    r = xcalloc(1, sizeof *r);
    if (redis_url && *redis_url) {
        if (redis_url_parse(redis_url, &r->url)) {
            free(r);
            return souk_fail(ei, SOUK_INVALID, "SOUK_REDIS_URL: expected redis://host[:port]");
        }
        r->redis_on = 1;
    }
    if ((err = db_open_pool(url, size, 1, &r->pool, ei))) {
        free(r);
        return err;
    }
    for (int i = 0; i < REDIS_CONNS; i++)
        pthread_mutex_init(&r->rc[i].mu, NULL);
    r->pool->primary = db;
    db->rep = r;
    metrics_describe("souk_db_reads_total", "Reads that may lag, by the pool that served them.");
    replay_refresh(r);
    log_info("db: reads that may lag go to the replica%s",
             r->redis_on ? " (writers' positions shared through Redis)" : "");
    return 0;
}

void db_replica_detach(struct db *db)
{
    struct db_replica *r = db->rep;

    if (!r)
        return;
    db->rep = NULL;
    db_close(r->pool);
    for (int i = 0; i < REDIS_CONNS; i++) {
        if (r->rc[i].c)
            redisFree(r->rc[i].c);
        pthread_mutex_destroy(&r->rc[i].mu);
    }
    free(r);
}

int db_has_replica(const struct db *db)
{
    return db && db->rep;
}

void db_replica_failed(struct db *primary, int err, const char *detail)
{
    struct db_replica *r = primary ? primary->rep : NULL;

    if (!r)
        return;
    atomic_store(&r->down_until, clock_mono_us() + REPLICA_DOWN_US);
    if (!atomic_exchange(&r->down, 1))
        log_warn("db: replica failed (%s: %s); its reads go to the primary for now",
                 err == SOUK_RETRY ? "cancelled" : "unavailable", detail ? detail : "-");
}

static struct db *chosen(struct db *pool, const char *which)
{
    metrics_counter_add("souk_db_reads_total", which, 1);
    return pool;
}

/* While the replica is known down: 1 (read from the primary) until a probe, made by one
 * caller once the pause is over, finds it answering again. */
static int still_down(struct db_replica *r)
{
    int64_t until = atomic_load(&r->down_until), now = clock_mono_us();

    if (!atomic_load(&r->down))
        return 0;
    if (now < until || !atomic_compare_exchange_strong(&r->down_until, &until,
                                                       now + REPLICA_DOWN_US))
        return 1;
    if (replay_refresh(r))
        return 1;
    if (atomic_exchange(&r->down, 0))
        log_info("db: replica answers again: reads that may lag go to it");
    return 0;
}

struct db *db_read_pool(struct db *db, const char *who)
{
    struct db_replica *r = db ? db->rep : NULL;
    uint64_t need = 0;

    if (!r)
        return db;
    if (still_down(r))
        return chosen(db, "pool=\"primary\",reason=\"replica_down\"");
    if (who && *who) {
        need = atomic_load(&r->writer[slot_of(who)]);
        if (r->redis_on) {
            int64_t v = redis_position(r, who);

            if (v < 0)
                return chosen(db, "pool=\"primary\",reason=\"no_redis\"");
            if ((uint64_t)v > need)
                need = (uint64_t)v;
        }
    }
    if (need > atomic_load(&r->replayed) &&
        (replay_refresh(r) || need > atomic_load(&r->replayed)))
        return chosen(db, "pool=\"primary\",reason=\"own_write\"");
    return chosen(r->pool, "pool=\"replica\"");
}

void db_note_write(struct db *db, const char *who)
{
    struct db_replica *r = db ? db->rep : NULL;
    struct souk_errinfo ei = {0};
    uint64_t lsn;

    if (!r || !who || !*who)
        return;
    if (lsn_read(db, "SELECT pg_current_wal_insert_lsn()::text", &lsn, &ei) == 0 && lsn) {
        atomic_raise(&r->writer[slot_of(who)], lsn);
        if (r->redis_on)
            redis_raise(r, who, lsn);
    }
    souk_errinfo_cleanup(&ei);
}
