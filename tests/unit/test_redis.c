/* test_redis.c - core/redis.h: URL forms (ACL user, password, port, db) and connecting to a real
 * redis-server that this test starts on a free loopback port with the default user disabled and
 * one ACL user, so that a connection which drops the user name cannot log in. The denylist
 * (auth/redis_deny.c) and the shared rate limits (core/ratelimit_redis.c) are run against it. */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/redis_deny.h"
#include "core/redis.h"
#include "core/ratelimit_redis.h"

static void test_url_acl_user_port_db(void **state)
{
    struct redis_url u;

    (void)state;
    assert_int_equal(redis_url_parse("redis://user:pw@h:6380/2", &u), 0);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
}

static void test_url_other_forms(void **state)
{
    struct redis_url u;

    (void)state;
    assert_int_equal(redis_url_parse("redis://127.0.0.1", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "");
    assert_int_equal(redis_url_parse("redis://:secret@h/", &u), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "secret");
    assert_int_equal(u.db, 0);
    assert_int_equal(redis_url_parse("redis://secret@h:7000/15", &u), 0);
    assert_string_equal(u.pass, "secret");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 15);
}

static void test_url_refused(void **state)
{
    struct redis_url u;
    static const char *const bad[] = {
        NULL, "", "http://h", "redis://", "redis://:pw@", "redis://h:0", "redis://h:99999",
        "redis://h:x", "redis://h:/1", "redis://h/x", "redis://h/70000", "redis://h:6379/-1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (redis_url_parse(bad[i], &u) != -1)
            fail_msg("accepted %s", bad[i] ? bad[i] : "(null)");
    }
}

/* ---- a real redis-server with an ACL user ------------------------------------------------- */

static pid_t server_pid;
static int server_port;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int server_start(void **state)
{
    char port[16];
    struct redis_url u = {.host = "127.0.0.1", .user = "souk", .pass = "s3cret"};

    (void)state;
    server_port = free_port();
    snprintf(port, sizeof port, "%d", server_port);
    server_pid = fork();
    if (server_pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--user", "souk", "on", ">s3cret", "~*", "&*", "+@all",
               "--user", "default", "off", (char *)NULL);
        _exit(127);
    }
    u.port = server_port;
    for (int i = 0; i < 100; i++) { /* up to 5 s */
        redisContext *c = redis_open(&u, 200, 200, NULL, 0);
        if (c) {
            redisFree(c);
            return 0;
        }
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
    return -1;
}

static int server_stop(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    return 0;
}

static void url_for(char *out, size_t n, const char *userinfo, int db)
{
    snprintf(out, n, "redis://%s127.0.0.1:%d/%d", userinfo, server_port, db);
}

/* cmd (a format with one %s for key) in db as the ACL user; the reply string or "" (static
 * buffer). */
static const char *get_as_acl_user(int db, const char *key, const char *cmd)
{
    static char out[64];
    char url[128];
    struct redis_url u;
    redisContext *c;
    redisReply *r;

    url_for(url, sizeof url, "souk:s3cret@", db);
    assert_int_equal(redis_url_parse(url, &u), 0);
    c = redis_open(&u, 1000, 1000, NULL, 0);
    assert_non_null(c);
    r = redisCommand(c, cmd, key);
    snprintf(out, sizeof out, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
    return out;
}

static void test_open_needs_the_user_name(void **state)
{
    char url[128], why[256] = "";
    struct redis_url u;
    redisContext *c;

    (void)state;
    url_for(url, sizeof url, ":s3cret@", 0); /* password only: the disabled default user */
    assert_int_equal(redis_url_parse(url, &u), 0);
    assert_null(redis_open(&u, 1000, 1000, why, sizeof why));
    assert_non_null(strstr(why, "AUTH"));
    url_for(url, sizeof url, "souk:wrong@", 0);
    assert_int_equal(redis_url_parse(url, &u), 0);
    assert_null(redis_open(&u, 1000, 1000, NULL, 0));
    url_for(url, sizeof url, "souk:s3cret@", 3);
    assert_int_equal(redis_url_parse(url, &u), 0);
    c = redis_open(&u, 1000, 1000, why, sizeof why);
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "SET unit:db probe"));
    redisFree(c);
    assert_string_equal(get_as_acl_user(3, "unit:db", "GET %s"), "probe");
    assert_string_equal(get_as_acl_user(0, "unit:db", "GET %s"), ""); /* SELECT 3 happened */
}

static void test_denylist_logs_in_as_acl_user(void **state)
{
    char url[128];

    (void)state;
    url_for(url, sizeof url, "souk:s3cret@", 2);
    assert_int_equal(redis_deny_set(url, "jti-unit-1", 60), 0);
    assert_string_equal(get_as_acl_user(2, "souk:deny:jti-unit-1", "GET %s"), "1");
    url_for(url, sizeof url, ":s3cret@", 2);
    assert_int_equal(redis_deny_set(url, "jti-unit-2", 60), -1);
    assert_string_equal(get_as_acl_user(2, "souk:deny:jti-unit-2", "GET %s"), "");
}

static void test_ratelimit_logs_in_as_acl_user(void **state)
{
    char url[128];
    int retry = -1;

    (void)state;
    url_for(url, sizeof url, "souk:s3cret@", 4);
    assert_int_equal(ratelimit_redis_open(url), 0);
    assert_int_equal(ratelimit_redis_take("unit-acl", 0.001, 1, &retry), 0);
    assert_int_equal(retry, 0);
    assert_int_equal(ratelimit_redis_take("unit-acl", 0.001, 1, &retry), 0);
    assert_true(retry > 0); /* the bucket lives in Redis: the second take is refused */
    ratelimit_redis_close();
    assert_string_equal(get_as_acl_user(4, "souk:rl:b:unit-acl", "HGET %s ts") [0] ? "set" : "",
                        "set");
    assert_string_equal(get_as_acl_user(0, "souk:rl:b:unit-acl", "HGET %s ts"), "");
}

int main(void)
{
    const struct CMUnitTest parse[] = {
        cmocka_unit_test(test_url_acl_user_port_db),
        cmocka_unit_test(test_url_other_forms),
        cmocka_unit_test(test_url_refused),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_open_needs_the_user_name),
        cmocka_unit_test(test_denylist_logs_in_as_acl_user),
        cmocka_unit_test(test_ratelimit_logs_in_as_acl_user),
    };
    int failed = cmocka_run_group_tests(parse, NULL, NULL);

    return failed + cmocka_run_group_tests(live, server_start, server_stop);
}
