/* test_ratelimit.c - token buckets and fixed windows, in-process and, when
 * SOUK_TEST_REDIS_URL is set (redis://127.0.0.1:<port>), the same cases
 * again through Redis. Keys carry the pid so reruns against one Redis do
 * not see each other's state. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/err.h"
#include "core/ratelimit.h"

static char prefix[64];

static const char *k(const char *name)
{
    static char buf[8][128];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 128, "%.64s:%.40s", prefix, name);
    return b;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup_local(void **state)
{
    (void)state;
    snprintf(prefix, sizeof prefix, "t%ld-local", (long)getpid());
    return ratelimit_init(NULL);
}

static int setup_redis(void **state)
{
    (void)state;
    snprintf(prefix, sizeof prefix, "t%ld-redis-%ld", (long)getpid(), (long)time(NULL));
    return ratelimit_init(getenv("SOUK_TEST_REDIS_URL"));
}

static int teardown(void **state)
{
    (void)state;
    ratelimit_shutdown();
    return 0;
}

static void test_burst_then_refused(void **state)
{
    int ra = -1;

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ratelimit_take(k("burst"), 1, 5, &ra), 0);
        assert_int_equal(ra, 0);
    }
    assert_int_equal(ratelimit_take(k("burst"), 1, 5, &ra), SOUK_RATE_LIMITED);
    assert_int_equal(ra, 1);
}

static void test_refill_over_time(void **state)
{
    int ra;

    (void)state;
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), 0);
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), 0);
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), SOUK_RATE_LIMITED);
    sleep_ms(130); /* 2.6 tokens at 20/s, capped at the burst of 2 */
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), 0);
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), 0);
    assert_int_equal(ratelimit_take(k("refill"), 20, 2, &ra), SOUK_RATE_LIMITED);
}

static void test_retry_after(void **state)
{
    int ra;

    (void)state;
    assert_int_equal(ratelimit_take(k("slow"), 0.5, 1, &ra), 0);
    assert_int_equal(ratelimit_take(k("slow"), 0.5, 1, &ra), SOUK_RATE_LIMITED);
    assert_int_equal(ra, 2);
    assert_int_equal(ratelimit_take(k("slower"), 0.1, 1, &ra), 0);
    assert_int_equal(ratelimit_take(k("slower"), 0.1, 1, &ra), SOUK_RATE_LIMITED);
    assert_in_range(ra, 9, 10); /* a few ms may already have refilled */
    /* off: any number of requests */
    for (int i = 0; i < 100; i++)
        assert_int_equal(ratelimit_take(k("off"), 0, 1, &ra), 0);
}

static void test_keys_isolated(void **state)
{
    int ra;

    (void)state;
    assert_int_equal(ratelimit_take(k("a"), 1, 1, &ra), 0);
    assert_int_equal(ratelimit_take(k("a"), 1, 1, &ra), SOUK_RATE_LIMITED);
    assert_int_equal(ratelimit_take(k("b"), 1, 1, &ra), 0);
    /* a window and a bucket of the same name are different things */
    int ttl;
    assert_int_equal(ratelimit_hit(k("a"), 60, &ttl), 1);
    assert_int_equal(ratelimit_count(k("b"), &ttl), 0);
}

static void test_window_counter(void **state)
{
    int ttl = -1;

    (void)state;
    assert_int_equal(ratelimit_count(k("win"), &ttl), 0);
    assert_int_equal(ttl, 0);
    for (long i = 1; i <= 3; i++) {
        assert_int_equal(ratelimit_hit(k("win"), 900, &ttl), i);
        assert_in_range(ttl, 899, 900);
    }
    assert_int_equal(ratelimit_count(k("win"), &ttl), 3);
    assert_in_range(ttl, 899, 900);
    ratelimit_reset(k("win"));
    assert_int_equal(ratelimit_count(k("win"), &ttl), 0);
    assert_int_equal(ttl, 0);
    assert_int_equal(ratelimit_hit(k("win"), 900, &ttl), 1);
}

static void test_window_expires(void **state)
{
    int ttl;

    (void)state;
    assert_int_equal(ratelimit_hit(k("short"), 1, &ttl), 1);
    assert_int_equal(ratelimit_hit(k("short"), 1, &ttl), 2);
    assert_int_equal(ttl, 1);
    sleep_ms(1100);
    assert_int_equal(ratelimit_count(k("short"), &ttl), 0);
    assert_int_equal(ratelimit_hit(k("short"), 1, &ttl), 1);
}

#define NTHREADS 8
#define PER_THREAD 400

struct worker {
    char wkey[128], bkey[128]; /* k() is not thread-safe: keys made up front */
    long allowed;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    int ttl, ra;

    for (int i = 0; i < PER_THREAD; i++) {
        ratelimit_hit(w->wkey, 600, &ttl);
        if (ratelimit_take(w->bkey, 0.001, 1000, &ra) == 0)
            w->allowed++;
    }
    return NULL;
}

static void test_concurrency_exact(void **state)
{
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    long total = 0;
    int ttl;

    (void)state;
    for (int i = 0; i < NTHREADS; i++) {
        snprintf(w[i].wkey, sizeof w[i].wkey, "%s", k("conc-w"));
        snprintf(w[i].bkey, sizeof w[i].bkey, "%s", k("conc-b"));
        w[i].allowed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].allowed;
    }
    assert_int_equal(ratelimit_count(k("conc-w"), &ttl), NTHREADS * PER_THREAD);
    assert_int_equal(total, 1000); /* exactly the burst, of 3200 attempts */
}

/* Many distinct keys: the table sweeps and evicts instead of growing. */
static void test_many_keys(void **state)
{
    char key[96];
    int ra;

    (void)state;
    for (int i = 0; i < 150000; i++) {
        snprintf(key, sizeof key, "%s:flood:%d", prefix, i);
        assert_int_equal(ratelimit_take(key, 10, 5, &ra), 0);
    }
    /* a key in active use right now is still limited */
    assert_int_equal(ratelimit_take(k("flood-hot"), 1, 1, &ra), 0);
    assert_int_equal(ratelimit_take(k("flood-hot"), 1, 1, &ra), SOUK_RATE_LIMITED);
}

/* An unreachable Redis: limits keep working in-process. */
static void test_redis_unreachable_falls_back(void **state)
{
    int ra, ttl;

    (void)state;
    ratelimit_shutdown();
    assert_int_equal(ratelimit_init("redis://127.0.0.1:1/0"), 0);
    assert_int_equal(ratelimit_take(k("fb"), 1, 1, &ra), 0);
    assert_int_equal(ratelimit_take(k("fb"), 1, 1, &ra), SOUK_RATE_LIMITED);
    assert_int_equal(ratelimit_hit(k("fbw"), 60, &ttl), 1);
    assert_int_equal(ratelimit_hit(k("fbw"), 60, &ttl), 2);
    ratelimit_shutdown();
    assert_int_equal(ratelimit_init("http://x"), -1);
    assert_int_equal(ratelimit_init("redis://"), -1);
    assert_int_equal(ratelimit_init("redis://h:99999"), -1);
    ratelimit_shutdown();
    assert_int_equal(ratelimit_init(NULL), 0);
}

/* Redis forgets its scripts (restart, SCRIPT FLUSH): EVAL takes over and
 * the state still lands in Redis, not in the in-process fallback. */
static void test_redis_script_flush(void **state)
{
    const char *url = getenv("SOUK_TEST_REDIS_URL");
    char host[64], key[160];
    int port = 0, db = 0, ra;
    redisContext *c;
    redisReply *r;

    (void)state;
    assert_true(sscanf(url, "redis://%63[^:]:%d/%d", host, &port, &db) >= 2);
    c = redisConnect(host, port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    freeReplyObject(redisCommand(c, "SELECT %d", db));
    freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
    assert_int_equal(ratelimit_take(k("flushed"), 1, 3, &ra), 0);
    snprintf(key, sizeof key, "souk:rl:b:%s", k("flushed"));
    r = redisCommand(c, "EXISTS %s", key);
    assert_non_null(r);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

#define CASES                                                                                      \
    cmocka_unit_test(test_burst_then_refused), cmocka_unit_test(test_refill_over_time),            \
        cmocka_unit_test(test_retry_after), cmocka_unit_test(test_keys_isolated),                  \
        cmocka_unit_test(test_window_counter), cmocka_unit_test(test_window_expires),              \
        cmocka_unit_test(test_concurrency_exact)

int main(void)
{
    const struct CMUnitTest local[] = {CASES, cmocka_unit_test(test_many_keys),
                                       cmocka_unit_test(test_redis_unreachable_falls_back)};
    const struct CMUnitTest redis[] = {CASES, cmocka_unit_test(test_redis_script_flush)};
    const char *url = getenv("SOUK_TEST_REDIS_URL");
    int failed = cmocka_run_group_tests_name("ratelimit_local", local, setup_local, teardown);

    if (url && *url)
        failed += cmocka_run_group_tests_name("ratelimit_redis", redis, setup_redis, teardown);
    else
        fprintf(stderr, "ratelimit_redis: skipped (SOUK_TEST_REDIS_URL not set)\n");
    return failed;
}
