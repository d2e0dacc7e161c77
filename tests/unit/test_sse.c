/* test_sse.c - server-sent events against a real server on a loopback
 * port: 1,000 streams open at once (and the RSS each costs), publish to a
 * channel reaches exactly its streams, clients that hang up are dropped at
 * the next heartbeat, and stopping the server ends the remaining streams.
 * Also a few middleware checks that need the real server. */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/http.h"

#define NSTREAMS 1000

static int events(struct http_req *req)
{
    const char *ch = http_query(req, "ch");
    return http_sse_start(req, ch ? ch : "all", NULL);
}

static int ping(struct http_req *req)
{
    return http_json(req, 200, json_pack("{s:s}", "pong", req->request_id));
}

static struct http_server *start(struct router **r)
{
    struct souk_errinfo ei = {0};
    *r = router_new();
    http_route(*r, "GET", "/api/events/", events, 0, "stream");
    http_route(*r, "GET", "/api/ping/", ping, 0, "ping");
    struct http_server_opts o = {.host = "127.0.0.1", .workers = 2, .max_body = 1024,
                                 .max_connections = NSTREAMS + 100, .shutdown_timeout = 5,
                                 .sse_heartbeat = 1, .max_per_ip = -1 /* one address */};
    struct http_server *s = http_server_start(&o, *r, &ei);
    assert_non_null(s);
    return s;
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends a request; reads until `want` shows up (or timeout). */
static int exchange(int fd, const char *req, const char *want, char *buf, size_t n)
{
    size_t got = 0;
    if (req && write(fd, req, strlen(req)) != (ssize_t)strlen(req))
        return -1;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, want))
            return 0;
    }
    return -1;
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int wait_count(int want, int seconds)
{
    int64_t until = clock_mono_us() + (int64_t)seconds * 1000000;
    while (sse_stream_count() != want && clock_mono_us() < until)
        usleep(20000);
    return sse_stream_count();
}

static void test_thousand_streams(void **state)
{
    (void)state;
    struct router *r;
    struct rlimit rl;
    static int fds[NSTREAMS];
    char buf[4096], req[128];

    getrlimit(RLIMIT_NOFILE, &rl); /* our client sockets need room too */
    rl.rlim_cur = rl.rlim_max > 3 * NSTREAMS ? 3 * NSTREAMS : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * NSTREAMS + 200)
        skip();
    struct http_server *s = start(&r);
    int port = http_server_port(s);
    long rss0 = rss_kib();
    for (int i = 0; i < NSTREAMS; i++) {
        fds[i] = dial(port);
        snprintf(req, sizeof req, "GET /api/events/?ch=c%d HTTP/1.1\r\nHost: x\r\n\r\n", i % 10);
        assert_int_equal(exchange(fds[i], req, ": stream", buf, sizeof buf), 0);
    }
    assert_int_equal(sse_stream_count(), NSTREAMS);
    assert_non_null(strstr(buf, "Content-Type: text/event-stream"));
    long rss1 = rss_kib();
    fprintf(stderr, "sse: %d streams open, RSS +%ld KiB = %.1f KiB per stream\n", NSTREAMS,
            rss1 - rss0, (double)(rss1 - rss0) / NSTREAMS);

    assert_int_equal(sse_publish("c3", "42", "bid.placed", "{\"x\":1}\nsecond"), NSTREAMS / 10);
    assert_int_equal(exchange(fds[3], NULL, "data: second\n\n", buf, sizeof buf), 0);
    assert_non_null(strstr(buf, "id: 42\nevent: bid.placed\ndata: {\"x\":1}\n"));
    assert_int_equal(sse_publish("nobody", NULL, "x", "y"), 0);

    /* Half the clients hang up: gone at the next heartbeat write. */
    for (int i = 0; i < NSTREAMS / 2; i++)
        close(fds[i]);
    assert_int_equal(wait_count(NSTREAMS / 2, 10), NSTREAMS / 2);

    /* Ordinary requests still flow next to the streams. */
    int fd = dial(port);
    assert_int_equal(exchange(fd, "GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Request-Id: t-1\r\n\r\n",
                              "\"pong\":\"t-1\"", buf, sizeof buf), 0);
    close(fd);

    int64_t t0 = clock_mono_us();
    http_server_stop(s); /* ends the 500 open streams */
    assert_true(clock_mono_us() - t0 < 4000000);
    assert_int_equal(sse_stream_count(), 0);
    for (int i = NSTREAMS / 2; i < NSTREAMS; i++)
        close(fds[i]);
    router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousand_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
