/* test_core.c - arena, money, UUIDv7, clock, JSON validation, config. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"

static void arena_basics(void **state)
{
    (void)state;
    struct arena *a = arena_new(64);
    char *s = arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = arena_alloc(a, (size_t)i + 1);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)i + 1); /* ASan catches overruns */
    }
    assert_string_equal(s, "hello");
    assert_string_equal(arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    int *z = arena_calloc(a, 100, sizeof(int));
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    char *big = arena_alloc(a, 3 << 20); /* bigger than any block */
    memset(big, 1, 3 << 20);
    assert_true(arena_used(a) > (3u << 20));
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
    assert_null(arena_strdup(a, NULL));
    arena_free(a);
    arena_free(NULL);
}

static void money_parse_cases(void **state)
{
    (void)state;
    int64_t m;
    struct { const char *s; int ok; int64_t v; } cases[] = {
        {"29.99", 1, 2999}, {"0.01", 1, 1},     {"30", 1, 3000},  {"30.5", 1, 3050},
        {"0", 1, 0},        {"007.10", 1, 710}, {"999999999999.99", 1, MONEY_MAX},
        {"1000000000000", 0, 0}, {"29.999", 0, 0}, {"-1.00", 0, 0}, {"1e3", 0, 0},
        {"", 0, 0},         {".5", 0, 0},       {"5.", 0, 0},     {" 5", 0, 0},
        {"5 ", 0, 0},       {"+5", 0, 0},       {"0x10", 0, 0},   {"1,00", 0, 0},
        {"NaN", 0, 0},      {"99999999999999999999999", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = money_parse(cases[i].s, 0, &m);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(m, cases[i].v);
        } else {
            assert_int_equal(rc, -1);
        }
    }
    assert_int_equal(money_parse("-1.05", 1, &m), 0);
    assert_int_equal(m, -105);
}

static void money_format_roundtrip(void **state)
{
    (void)state;
    char buf[MONEY_STR_LEN];
    int64_t back;
    money_format(2999, buf);
    assert_string_equal(buf, "29.99");
    money_format(5, buf);
    assert_string_equal(buf, "0.05");
    money_format(-5, buf);
    assert_string_equal(buf, "-0.05");
    money_format(INT64_MIN, buf); /* must not overflow */
    assert_string_equal(buf, "-92233720368547758.08");
    for (int64_t v = 0; v < 100000; v += 37) {
        money_format(v, buf);
        assert_int_equal(money_parse(buf, 0, &back), 0);
        assert_int_equal(back, v);
    }
}

static void money_json(void **state)
{
    (void)state;
    int64_t m;
    json_t *f = json_real(29.99), *s = json_string("29.99"), *i = json_integer(30),
           *neg = json_integer(-1), *t = json_true();
    assert_int_equal(money_from_json(f, 0, &m), -1); /* floats refused */
    assert_int_equal(money_from_json(s, 0, &m), 0);
    assert_int_equal(m, 2999);
    assert_int_equal(money_from_json(i, 0, &m), 0);
    assert_int_equal(m, 3000);
    assert_int_equal(money_from_json(neg, 0, &m), -1);
    assert_int_equal(money_from_json(t, 0, &m), -1);
    json_t *j = money_to_json(123456);
    assert_string_equal(json_string_value(j), "1234.56");
    json_decref(j);
    json_decref(f);
    json_decref(s);
    json_decref(i);
    json_decref(neg);
    json_decref(t);
    assert_true(currency_valid("usd"));
    assert_false(currency_valid("USD"));
    assert_false(currency_valid("us"));
}

static void uuid_v7_props(void **state)
{
    (void)state;
    char a[UUID_STR_LEN], b[UUID_STR_LEN], n[UUID_STR_LEN];
    uuid_v7(a);
    assert_true(uuid_valid(a));
    assert_int_equal(a[14], '7');
    assert_true(strchr("89ab", a[19]) != NULL);
    for (int i = 0; i < 10000; i++) { /* strictly increasing within one process */
        uuid_v7(b);
        assert_true(strcmp(a, b) < 0);
        memcpy(a, b, sizeof a);
    }
    uuid_v7_at(0x0123456789ab, b);
    assert_memory_equal(b, "01234567-89ab-7", 15);
    assert_false(uuid_valid("not-a-uuid"));
    assert_false(uuid_valid("0123456789ab-7000-8000-000000000000"));
    assert_false(uuid_valid("01234567-89ab-7000-8000-0000000000000"));
    assert_false(uuid_valid(NULL));
    assert_int_equal(uuid_normalize("0123ABCD-89AB-7000-8000-00000000000F", n), 0);
    assert_string_equal(n, "0123abcd-89ab-7000-8000-00000000000f");
}

static void clock_roundtrip(void **state)
{
    (void)state;
    char buf[CLOCK_RFC3339_LEN];
    int64_t us;
    clock_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    assert_int_equal(clock_parse("2026-01-13T15:30:00.123456Z", &us), 0);
    clock_format(us, buf);
    assert_string_equal(buf, "2026-01-13T15:30:00.123456Z");
    assert_int_equal(clock_parse("2026-01-13T16:30:00+01:00", &us), 0);
    clock_format(us, buf);
    assert_string_equal(buf, "2026-01-13T15:30:00.000000Z");
    assert_int_equal(clock_parse("2024-02-29T00:00:00Z", &us), 0);
    assert_int_equal(clock_parse("2023-02-29T00:00:00Z", &us), -1);
    assert_int_equal(clock_parse("2026-13-01T00:00:00Z", &us), -1);
    assert_int_equal(clock_parse("2026-01-13T15:30:00", &us), -1); /* no zone */
    assert_int_equal(clock_parse("2026-01-13T15:30:00.Z", &us), -1);
    assert_int_equal(clock_parse("garbage", &us), -1);
    int64_t now = clock_now_us();
    clock_format(now, buf);
    assert_int_equal(clock_parse(buf, &us), 0);
    assert_int_equal(us, now);
}

static void json_validation(void **state)
{
    (void)state;
    struct souk_errinfo ei = {0};
    struct jv v;
    json_error_t je;
    char id[37];
    int64_t t;
    json_t *o = json_loads("{\"email\":\"a@b.c\",\"n\":5,\"price\":29.99,\"ok\":true,"
                           "\"kind\":\"x\",\"id\":\"nope\",\"tags\":[\"a\",1],\"blank\":\"\","
                           "\"when\":\"2026-01-01T00:00:00Z\",\"nul\":null}",
                           0, &je);
    static const char *const kinds[] = {"a", "b", NULL};
    assert_non_null(o);
    jv_begin(&v, o, &ei);
    assert_string_equal(jv_str(&v, "email", JV_REQUIRED, 3, 254, NULL), "a@b.c");
    assert_int_equal(jv_int(&v, "n", JV_REQUIRED, 1, 10, 0), 5);
    assert_int_equal(jv_int(&v, "n", JV_REQUIRED, 6, 10, -1), -1); /* too small */
    assert_int_equal(jv_money(&v, "price", JV_REQUIRED, 0, MONEY_MAX, -1), -1); /* float */
    assert_true(jv_bool(&v, "ok", JV_REQUIRED, 0));
    assert_null(jv_enum(&v, "kind", JV_REQUIRED, kinds, NULL));
    assert_int_equal(jv_uuid(&v, "id", JV_REQUIRED, id), 0);
    assert_null(jv_str_array(&v, "tags", JV_REQUIRED, 10, 1, 10));
    assert_null(jv_str(&v, "blank", JV_REQUIRED, 1, 10, NULL));
    assert_null(jv_str(&v, "missing", JV_REQUIRED, 1, 10, NULL));
    assert_string_equal(jv_str(&v, "missing2", JV_OPTIONAL, 1, 10, "dflt"), "dflt");
    assert_int_equal(jv_time(&v, "when", JV_REQUIRED, &t), 1);
    assert_string_equal(jv_str(&v, "nul", JV_OPTIONAL | JV_NULLABLE, 0, 10, "d"), "d");
    assert_int_equal(jv_done(&v), SOUK_INVALID);
    const char *bad[] = {"n", "price", "kind", "id", "tags", "blank", "missing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(json_object_get(ei.errors, bad[i]));
    assert_null(json_object_get(ei.errors, "email"));
    assert_null(json_object_get(ei.errors, "nul"));
    souk_errinfo_cleanup(&ei);

    json_t *arr = json_array();
    jv_begin(&v, arr, &ei);
    assert_int_equal(jv_done(&v), SOUK_INVALID);
    assert_non_null(json_object_get(ei.errors, "non_field_errors"));
    souk_errinfo_cleanup(&ei);
    json_decref(arr);
    json_decref(o);
}

static void config_env_and_flags(void **state)
{
    (void)state;
    struct souk_config c;
    char err[256];
    char dir[] = "/tmp/souk-unit-XXXXXX";
    struct stat st;

    assert_non_null(mkdtemp(dir));
    unsetenv("SOUK_SECRET_KEY");
    setenv("SOUK_LISTEN", "127.0.0.1:9123", 1);
    setenv("SOUK_WORKERS", "3", 1);
    setenv("SOUK_DATA_DIR", dir, 1);
    assert_int_equal(config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 9123);
    assert_int_equal(c.workers, 3);
    assert_int_equal(config_set(&c, "listen", "[::1]:81", err, sizeof err), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(config_set(&c, "workers", "0", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "workers", "-3", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "workers", "12abc", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "bogus", "1", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "listen", "nope", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "listen", "h:70000", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "access-log", "maybe", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "access-log", "off", err, sizeof err), 0);
    assert_int_equal(c.access_log, 0);
    assert_int_equal(config_finish(&c, err, sizeof err), 0);
    /* secret generated, kept 0600, reused */
    char path[600], first[256];
    snprintf(path, sizeof path, "%s/secret_key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(first, sizeof first, "%s", c.secret_key);
    assert_int_equal((int)strlen(first), 64);
    assert_int_equal(config_load(&c, err, sizeof err), 0);
    assert_int_equal(config_finish(&c, err, sizeof err), 0);
    assert_string_equal(c.secret_key, first);
    assert_true(strstr(c.database_url, "sqlite:///") == c.database_url);
    assert_string_equal(c.public_url, "http://127.0.0.1:9123");
    setenv("SOUK_WORKERS", "lots", 1);
    assert_int_equal(config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "SOUK_WORKERS"));
    unsetenv("SOUK_WORKERS");
    unsetenv("SOUK_LISTEN");
    unsetenv("SOUK_DATA_DIR");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_basics),        cmocka_unit_test(money_parse_cases),
        cmocka_unit_test(money_format_roundtrip), cmocka_unit_test(money_json),
        cmocka_unit_test(uuid_v7_props),       cmocka_unit_test(clock_roundtrip),
        cmocka_unit_test(json_validation),     cmocka_unit_test(config_env_and_flags),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
