/* test_notify_seen.c - the delivered-ids set of src/notify/seen.c: an id is
 * new once, stays known for two minutes, then is forgotten; the set stays
 * bounded; colliding buckets keep their entries apart. */
#include "unit.h"

#include <stdio.h>

#include "notify/internal.h"

#define SEC 1000000LL

static void id_of(int n, char out[37])
{
    snprintf(out, 37, "01890000-0000-7000-8000-%012d", n);
}

static void test_once_per_id(void **state)
{
    char a[37], b[37];
    (void)state;

    notify_seen_clear();
    id_of(1, a);
    id_of(2, b);
    assert_int_equal(notify_seen_add(a, 10 * SEC), 1);
    assert_int_equal(notify_seen_add(a, 11 * SEC), 0);
    assert_int_equal(notify_seen_add(b, 11 * SEC), 1);
    assert_int_equal(notify_seen_add(b, 12 * SEC), 0);
    assert_int_equal(notify_seen_add(a, 12 * SEC), 0);
}

static void test_forgotten_after_two_minutes(void **state)
{
    char a[37], b[37];
    (void)state;

    notify_seen_clear();
    id_of(3, a);
    id_of(4, b);
    assert_int_equal(notify_seen_add(a, 100 * SEC), 1);
    assert_int_equal(notify_seen_add(b, 230 * SEC), 1); /* a is now older than 120 s */
    assert_int_equal(notify_seen_add(a, 231 * SEC), 1);
    assert_int_equal(notify_seen_add(b, 240 * SEC), 0);
}

static void test_bounded_and_exact(void **state)
{
    char id[37];
    (void)state;

    notify_seen_clear();
    for (int i = 0; i < 70000; i++) { /* more than the 65536 kept */
        id_of(1000 + i, id);
        assert_int_equal(notify_seen_add(id, 500 * SEC), 1);
    }
    id_of(1000, id); /* the oldest went first */
    assert_int_equal(notify_seen_add(id, 500 * SEC), 1);
    id_of(1000 + 69999, id); /* the newest is still known */
    assert_int_equal(notify_seen_add(id, 500 * SEC), 0);
    notify_seen_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_per_id),
        cmocka_unit_test(test_forgotten_after_two_minutes),
        cmocka_unit_test(test_bounded_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
