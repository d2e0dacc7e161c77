/* test_fiber.c - fibers (src/core/fiber.c): a fiber runs to its first park
 * and hands the thread back; it goes on only after fiber_wake, from another
 * thread too; many fibers park at once on one thread, each keeping its own
 * stack; a wake that comes before the park is not lost. */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include "core/fiber.h"

struct waker_log {
    atomic_int woken;
};

static void count_wake(struct fiber *f, void *ud)
{
    struct waker_log *w = ud;
    (void)f;
    atomic_fetch_add(&w->woken, 1);
}

struct steps {
    int step;
    atomic_int go; /* set before wake: the condition the fiber parks on */
    char mark[64];
};

static void two_steps(void *ud)
{
    struct steps *s = ud;
    char local[32];

    snprintf(local, sizeof local, "stack %p", (void *)s);
    assert_non_null(fiber_self());
    s->step = 1;
    while (!atomic_load(&s->go))
        fiber_park();
    s->step = 2;
    snprintf(s->mark, sizeof s->mark, "%s", local); /* its stack survived the park */
}

static void *wake_later(void *arg)
{
    struct fiber *f = arg;
    struct steps *s = fiber_data(f);
    atomic_store(&s->go, 1);
    fiber_wake(f);
    return NULL;
}

static void test_park_and_wake_from_another_thread(void **state)
{
    struct waker_log w = {0};
    struct steps s = {0};
    pthread_t t;
    char want[32];
    (void)state;

    assert_null(fiber_self());
    struct fiber *f = fiber_new(two_steps, &s, count_wake, &w);
    assert_non_null(f);
    assert_int_equal(fiber_resume(f), 0); /* parked */
    assert_int_equal(s.step, 1);
    assert_null(fiber_self());
    assert_int_equal(pthread_create(&t, NULL, wake_later, f), 0);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&w.woken), 1);
    assert_int_equal(fiber_resume(f), 1); /* finished */
    assert_int_equal(s.step, 2);
    snprintf(want, sizeof want, "stack %p", (void *)&s);
    assert_string_equal(s.mark, want);
    fiber_free(f);
}

/* The wake comes first (here from the fiber itself, as when the provider
 * loop finishes before the caller parks): the park still happens and returns
 * at the next resume. */
static void wake_then_park(void *ud)
{
    struct steps *s = ud;
    fiber_wake(fiber_self());
    s->step = 1;
    fiber_park();
    s->step = 2;
}

static void test_wake_before_park_is_kept(void **state)
{
    struct waker_log w = {0};
    struct steps s = {0};
    (void)state;

    struct fiber *f = fiber_new(wake_then_park, &s, count_wake, &w);
    assert_int_equal(fiber_resume(f), 0);
    assert_int_equal(s.step, 1);
    assert_int_equal(atomic_load(&w.woken), 1);
    assert_int_equal(fiber_resume(f), 1);
    assert_int_equal(s.step, 2);
    fiber_free(f);
}

#define MANY 300

static void test_many_parked_on_one_thread(void **state)
{
    static struct steps s[MANY];
    static struct fiber *f[MANY];
    struct waker_log w = {0};
    (void)state;

    for (int i = 0; i < MANY; i++) {
        memset(&s[i], 0, sizeof s[i]);
        f[i] = fiber_new(two_steps, &s[i], count_wake, &w);
        assert_non_null(f[i]);
        assert_int_equal(fiber_resume(f[i]), 0);
    }
    for (int i = MANY - 1; i >= 0; i--) { /* resumed in another order than started */
        atomic_store(&s[i].go, 1);
        fiber_wake(f[i]);
        assert_int_equal(fiber_resume(f[i]), 1);
        assert_int_equal(s[i].step, 2);
        fiber_free(f[i]);
    }
    assert_int_equal(atomic_load(&w.woken), MANY);
}

static void test_park_off_a_fiber_returns(void **state)
{
    (void)state;
    fiber_park(); /* a plain thread: nothing to switch to */
    assert_null(fiber_self());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_park_and_wake_from_another_thread),
        cmocka_unit_test(test_wake_before_park_is_kept),
        cmocka_unit_test(test_many_parked_on_one_thread),
        cmocka_unit_test(test_park_off_a_fiber_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
