/* test_server.c - the server's life cycle against real loopback servers:
 * a graceful stop lets a request whose body is still arriving finish and
 * get its response (with Connection: close) while new connections are
 * refused; two servers in one process stop independently (streams, the
 * stopping flag seen by handlers); a server with no_auth_hook never calls
 * the process-wide auth hook. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/http.h"
#include "http/internal.h"

static int hook_calls;

static int count_hook(struct http_req *req, const char *token)
{
    (void)req;
    (void)token;
    __atomic_add_fetch(&hook_calls, 1, __ATOMIC_SEQ_CST);
    return SOUK_TOKEN_INVALID;
}

static int echo(struct http_req *req)
{
    return http_json(
        req, 200,
        json_pack("{s:i, s:b}", "len", (int)req->body_len, "stopping", http_server_stopping()));
}

static int events(struct http_req *req)
{
    return http_sse_start(req, "ch", NULL);
}

static struct http_server *start(struct router **r, int no_auth_hook)
{
    struct souk_errinfo ei = {0};
    *r = router_new();
    http_route(*r, "POST", "/echo", echo, ROUTE_RAW_BODY, "echo");
    http_route(*r, "GET", "/events", events, 0, "stream");
    struct http_server_opts o = {.host = "127.0.0.1",
                                 .workers = 2,
                                 .max_body = 4096,
                                 .max_connections = 64,
                                 .shutdown_timeout = 5,
                                 .no_auth_hook = no_auth_hook};
    struct http_server *s = http_server_start(&o, *r, &ei);
    assert_non_null(s);
    return s;
}

/* Connects to the port; -errno when refused. */
static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void send_all(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads until the peer closes or `want` shows up; returns what came. */
static char *read_until(int fd, const char *want, char *buf, size_t n)
{
    size_t got = 0;
    buf[0] = '\0';
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (want && strstr(buf, want))
            break;
    }
    return buf;
}

static void *stop_main(void *arg)
{
    http_server_stop(arg);
    return NULL;
}

static void wait_streams(int n)
{
    for (int i = 0; i < 200 && sse_stream_count() != n; i++)
        usleep(10000);
    assert_int_equal(sse_stream_count(), n);
}

/* Server A stops while an upload to it is half sent; server B runs on. */
static void test_stop_drains_upload(void **state)
{
    struct router *ra, *rb;
    struct http_server *a = start(&ra, 0), *b = start(&rb, 0);
    int pa = http_server_port(a), pb = http_server_port(b);
    char buf[4096];
    pthread_t stopper;
    (void)state;

    int up = dial(pa);
    assert_true(up >= 0);
    send_all(up, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
    int sb = dial(pb);
    assert_true(sb >= 0);
    send_all(sb, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    read_until(sb, ": stream", buf, sizeof buf);
    usleep(100000);
    assert_int_equal(pthread_create(&stopper, NULL, stop_main, a), 0);
    usleep(200000);

    assert_int_equal(dial(pa), -ECONNREFUSED);   /* new connections: refused */
    assert_int_equal(http_server_stopping(), 1); /* not a worker: any server */
    int fb = dial(pb);                           /* B's handlers: B is not stopping */
    send_all(fb, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(read_until(fb, "}", buf, sizeof buf), "\"stopping\":false"));
    close(fb);

    send_all(up, "56789"); /* the rest of the body */
    read_until(up, NULL, buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "\"len\":10"));
    assert_non_null(strstr(buf, "\"stopping\":true"));
    assert_non_null(strcasestr(buf, "\r\nConnection: close"));
    close(up);
    pthread_join(stopper, NULL);
    router_free(ra);

    assert_int_equal(http_server_stopping(), 0);
    wait_streams(1); /* B's stream outlived A */
    http_server_stop(b);
    wait_streams(0);
    assert_non_null(strstr(read_until(sb, "0\r\n\r\n", buf, sizeof buf), "0\r\n\r\n"));
    close(sb);
    router_free(rb);
}

/* Idle keep-alive connections do not hold the stop up. */
static void test_stop_closes_idle(void **state)
{
    struct router *r;
    struct http_server *s = start(&r, 0);
    char buf[4096];
    (void)state;

    int fd = dial(http_server_port(s));
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_non_null(strstr(read_until(fd, "}", buf, sizeof buf), "200"));
    int64_t t0 = clock_mono_us();
    http_server_stop(s);
    assert_true(clock_mono_us() - t0 < 1000000);
    assert_int_equal(read(fd, buf, sizeof buf), 0);
    close(fd);
    router_free(r);
}

static int hook_calls_for(int no_auth_hook)
{
    struct router *r;
    struct http_server *s = start(&r, no_auth_hook);
    char buf[4096];
    int fd = dial(http_server_port(s));
    hook_calls = 0;
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_1\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n");
    read_until(fd, NULL, buf, sizeof buf);
    close(fd);
    http_server_stop(s);
    router_free(r);
    if (no_auth_hook)
        assert_non_null(strstr(buf, "HTTP/1.1 200"));
    else
        assert_null(strstr(buf, "HTTP/1.1 200"));
    return __atomic_load_n(&hook_calls, __ATOMIC_SEQ_CST);
}

static void test_no_auth_hook(void **state)
{
    (void)state;
    http_set_auth_hook(count_hook);
    assert_int_equal(hook_calls_for(0), 1);
    assert_int_equal(hook_calls_for(1), 0);
    http_set_auth_hook(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_drains_upload),
        cmocka_unit_test(test_stop_closes_idle),
        cmocka_unit_test(test_no_auth_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
