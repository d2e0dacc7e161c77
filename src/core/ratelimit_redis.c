/* ratelimit_redis.c - rate limits shared by every souk node through Redis.
 *
 * Keys: "souk:rl:b:<key>" is a token bucket (a hash: tk = tokens,
 * ts = Redis time of the last refill in ms), "souk:rl:w:<key>" a fixed
 * window counter (a string with a TTL). Each operation is one Lua script,
 * so it is atomic and one round trip; the bucket uses the server's TIME,
 * so nodes with skewed clocks agree. Scripts are loaded with SCRIPT LOAD
 * on connect and run with EVALSHA, falling back to EVAL when the server
 * has forgotten them (NOSCRIPT after a restart or SCRIPT FLUSH).
 *
 * Connections: a pool of RLR_POOL slots, each a mutex and a redisContext;
 * a thread keeps to the slot it was given first (round robin), so with
 * more threads than slots a few threads share one. Commands time out after
 * RLR_TIMEOUT_MS. When a command fails on the connection it is dropped,
 * and the slot does not try to reconnect for RLR_RETRY_MS, so an outage
 * costs each request at most one short timeout per slot per retry period.
 * The first failure logs a warning and the first success after it an
 * info line (not one line per request).
 *
 * Thread-safe after ratelimit_redis_open; open/close are not.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/ratelimit_redis.h"

#define RLR_POOL 8
#define RLR_TIMEOUT_MS 250
#define RLR_RETRY_MS 2000

enum { SCRIPT_TAKE, SCRIPT_HIT, SCRIPT_COUNT, SCRIPT__COUNT };

/* ARGV: rate (tokens/s), burst. Returns 0 when a token was taken, else the
 * seconds until one is available. Timestamps are integer ms, which Lua's
 * number formatting keeps exact; tokens keep six decimals. */
static const char SCRIPT_TAKE_SRC[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local rate = tonumber(ARGV[1])\n"
    "local burst = tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local h = redis.call('HMGET', KEYS[1], 'tk', 'ts')\n"
    "local tokens = tonumber(h[1]) or burst\n"
    "local ts = tonumber(h[2]) or now\n"
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end\n"
    "local wait = 0\n"
    "if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end\n"
    "redis.call('HSET', KEYS[1], 'tk', string.format('%.6f', tokens), 'ts', string.format('%.0f', now))\n"
    "redis.call('PEXPIRE', KEYS[1], math.min(math.ceil(burst * 1000 / rate) + 1000, 2592000000))\n"
    "return wait\n";

/* ARGV: window seconds. INCR, with the expiry set on the first hit (and
 * repaired should the key ever lack one). Returns {count, ttl}. */
static const char SCRIPT_HIT_SRC[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "local ttl = redis.call('TTL', KEYS[1])\n"
    "if n == 1 or ttl < 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "  ttl = tonumber(ARGV[1])\n"
    "end\n"
    "return {n, ttl}\n";

/* Returns {count, ttl}; {0, 0} when there is no window. */
static const char SCRIPT_COUNT_SRC[] =
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "local ttl = redis.call('TTL', KEYS[1])\n"
    "if ttl < 0 then ttl = 0 end\n"
    "return {n, ttl}\n";

static const char *const SCRIPTS[SCRIPT__COUNT] = {SCRIPT_TAKE_SRC, SCRIPT_HIT_SRC,
                                                   SCRIPT_COUNT_SRC};

struct slot {
    pthread_mutex_t mu;
    redisContext *c;
    int64_t retry_at_us;           /* no connection attempt before this */
    char sha[SCRIPT__COUNT][41];   /* SCRIPT LOAD results for this connection */
};

static struct {
    struct redis_url url;
    struct slot pool[RLR_POOL];
} R;

static atomic_uint next_slot;
static _Thread_local int my_slot = -1;
static atomic_int redis_down; /* 1 after a failure, until a success */

/* ---- URL ---------------------------------------------------------------------- */

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* ---- connections ------------------------------------------------------------------- */

static void note_failure(const char *what, const char *why)
{
    if (atomic_exchange(&redis_down, 1) == 0)
        log_warn("ratelimit: redis %s failed (%s); using in-process limits until it is back",
                 what, why ? why : "no reply");
}

static void note_success(void)
{
    if (atomic_exchange(&redis_down, 0) == 1)
        log_info("ratelimit: redis is back; limits are shared again");
}

/* Runs one setup command; 0 when it did not fail. */
static int setup_cmd(struct slot *s, int argc, const char **argv, char *sha_out)
{
    redisReply *r = redisCommandArgv(s->c, argc, argv, NULL);
    int ok = r && r->type != REDIS_REPLY_ERROR;

    if (ok && sha_out)
        ok = r->type == REDIS_REPLY_STRING && copy_part(sha_out, 41, r->str, r->len) == 0;
    if (!ok)
        note_failure(argv[0], r ? r->str : s->c->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static int slot_setup(struct slot *s)
{
    for (int i = 0; i < SCRIPT__COUNT; i++)
        if (setup_cmd(s, 3, (const char *[]){"SCRIPT", "LOAD", SCRIPTS[i]}, s->sha[i]))
            return -1;
    return 0;
}

static void slot_drop(struct slot *s)
{
    redisFree(s->c);
    s->c = NULL;
    s->retry_at_us = clock_mono_us() + RLR_RETRY_MS * 1000LL;
}

/* Connects the slot if needed and allowed; 0 when it has a connection. */
static int slot_connect(struct slot *s)
{
    char why[256];

    if (s->c)
        return 0;
    if (clock_mono_us() < s->retry_at_us)
        return -1;
    s->c = redis_open(&R.url, RLR_TIMEOUT_MS, RLR_TIMEOUT_MS, why, sizeof why);
    if (!s->c) {
        note_failure("connect", why);
        slot_drop(s);
        return -1;
    }
    if (slot_setup(s)) {
        slot_drop(s);
        return -1;
    }
    return 0;
}

/* Locks this thread's slot and makes sure it is connected; NULL (and no
 * lock held) when Redis is not available right now. */
static struct slot *slot_acquire(void)
{
    struct slot *s;

    if (!R.url.host[0])
        return NULL;
    if (my_slot < 0)
        my_slot = (int)(atomic_fetch_add(&next_slot, 1) % RLR_POOL);
    s = &R.pool[my_slot];
    pthread_mutex_lock(&s->mu);
    if (slot_connect(s)) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    return s;
}

/* ---- scripts -------------------------------------------------------------------------- */

/* EVALSHA script 1 key args..., then EVAL on NOSCRIPT. Returns an array or
 * integer reply (the caller frees it), or NULL after a failure. */
static redisReply *script_run(int script, const char *prefix, const char *key, int nargs,
                              const char **args)
{
    struct slot *s = slot_acquire();
    char *k = NULL;
    const char *argv[8];
    redisReply *r = NULL;

    if (!s)
        return NULL;
    k = xmalloc(strlen(prefix) + strlen(key) + 1);
    strcpy(stpcpy(k, prefix), key);
    argv[0] = "EVALSHA";
    argv[1] = s->sha[script];
    argv[2] = "1";
    argv[3] = k;
    for (int i = 0; i < nargs; i++)
        argv[4 + i] = args[i];
    r = redisCommandArgv(s->c, 4 + nargs, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = SCRIPTS[script];
        r = redisCommandArgv(s->c, 4 + nargs, argv, NULL);
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        note_failure("script", r ? r->str : s->c->errstr);
        if (!r)
            slot_drop(s);
        freeReplyObject(r);
        r = NULL;
    } else {
        note_success();
    }
    pthread_mutex_unlock(&s->mu);
    free(k);
    return r;
}

/* {integer, integer} reply into two values; -1 when it is not that. */
static int pair_get(redisReply *r, long *a, int *b)
{
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_INTEGER &&
             r->element[1]->type == REDIS_REPLY_INTEGER;

    if (ok) {
        *a = (long)r->element[0]->integer;
        *b = (int)r->element[1]->integer;
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ---- API ------------------------------------------------------------------------------ */

int ratelimit_redis_open(const char *url)
{
    if (redis_url_parse(url, &R.url)) {
        log_error("ratelimit: SOUK_REDIS_URL is not redis://[[user]:password@]host[:port][/db]");
        memset(&R.url, 0, sizeof R.url);
        return -1;
    }
    for (int i = 0; i < RLR_POOL; i++) {
        pthread_mutex_init(&R.pool[i].mu, NULL);
        R.pool[i].c = NULL;
        R.pool[i].retry_at_us = 0;
    }
    atomic_store(&redis_down, 0);
    struct slot *s = slot_acquire(); /* connect one now, to log an outage early */
    if (s) {
        note_success();
        pthread_mutex_unlock(&s->mu);
    }
    return 0;
}

void ratelimit_redis_close(void)
{
    if (!R.url.host[0])
        return;
    for (int i = 0; i < RLR_POOL; i++) {
        redisFree(R.pool[i].c);
        R.pool[i].c = NULL;
        pthread_mutex_destroy(&R.pool[i].mu);
    }
    memset(&R.url, 0, sizeof R.url);
}

int ratelimit_redis_take(const char *key, double rate, int burst, int *retry_after)
{
    char srate[32], sburst[16];
    redisReply *r;
    int rc = -1;

    snprintf(srate, sizeof srate, "%.17g", rate);
    snprintf(sburst, sizeof sburst, "%d", burst);
    r = script_run(SCRIPT_TAKE, "souk:rl:b:", key, 2, (const char *[]){srate, sburst});
    if (r && r->type == REDIS_REPLY_INTEGER) {
        *retry_after = (int)r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int ratelimit_redis_hit(const char *key, int window, long *count, int *ttl)
{
    char swin[16];

    snprintf(swin, sizeof swin, "%d", window);
    return pair_get(script_run(SCRIPT_HIT, "souk:rl:w:", key, 1, (const char *[]){swin}), count,
                    ttl);
}

int ratelimit_redis_count(const char *key, long *count, int *ttl)
{
    return pair_get(script_run(SCRIPT_COUNT, "souk:rl:w:", key, 0, NULL), count, ttl);
}

int ratelimit_redis_reset(const char *key)
{
    struct slot *s = slot_acquire();
    redisReply *r;
    int rc;

    if (!s)
        return -1;
    r = redisCommand(s->c, "DEL souk:rl:w:%b", key, strlen(key));
    rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (!r)
        slot_drop(s);
    freeReplyObject(r);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
