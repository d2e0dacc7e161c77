/* fuzz_multipart.c - the multipart/form-data path of the server
 * (src/http/multipart.c behind libmicrohttpd's post processor): boundaries,
 * truncated parts, huge headers, parts past the limits.
 *
 * A real HTTP server runs in-process on a loopback port with one
 * ROUTE_MULTIPART route; each input is sent as one request. Input: the
 * bytes up to the first '\n' are the boundary (the Content-Type parameter,
 * sent as they are), the rest is the body. The handler checks the
 * invariants: at most 64 parts, a text field is NUL-terminated at its size,
 * a file part's temporary file holds exactly `size` bytes whose SHA-256 is
 * the one reported. The server must answer every request (no hang, no
 * crash); the sanitizers catch leaks and bad accesses.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "http/http.h"

static struct http_server *srv;
static int port;
static char tmpdir[] = "/tmp/souk-fuzz-mp-XXXXXX";

static void check_file(const struct http_part *p)
{
    unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256_state st;
    struct stat sb;
    if (!p->path)
        return; /* dropped: over the per-file limit */
    if (stat(p->path, &sb) != 0 || (size_t)sb.st_size != p->size)
        abort();
    FILE *f = fopen(p->path, "rb");
    size_t n;
    crypto_hash_sha256_init(&st);
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_hash_sha256_update(&st, buf, n);
    if (f)
        fclose(f);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    if (strcmp(hex, p->sha256) != 0)
        abort();
}

static int upload(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const struct http_part *parts;
    int n;
    int err = http_multipart(req, &parts, &n, &ei);
    if (err)
        return http_problem(req, err, &ei);
    if (n < 0 || n > 64)
        abort();
    for (int i = 0; i < n; i++) {
        if (!parts[i].name)
            abort();
        if (parts[i].filename)
            check_file(&parts[i]);
        else if (!parts[i].value || strlen(parts[i].value) > parts[i].size)
            abort();
    }
    return http_json(req, 200, json_pack("{s:i}", "parts", n));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct souk_errinfo ei = {0};
    struct router *r = router_new();
    (void)argc;
    (void)argv;
    if (sodium_init() < 0 || !mkdtemp(tmpdir))
        abort();
    http_multipart_config(tmpdir, 4096, 64 * 1024);
    http_route(r, "POST", "/up/", upload, ROUTE_MULTIPART | ROUTE_NO_API | ROUTE_NO_RATELIMIT,
               "fuzz");
    struct http_server_opts o = {.host = "127.0.0.1", .port = 0, .workers = 2,
                                 .max_body = 1024, .no_auth_hook = 1};
    if (!(srv = http_server_start(&o, r, &ei)))
        abort();
    port = http_server_port(srv);
    return 0;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* One request; returns the bytes of the answer (0: the connection closed unanswered). */
static ssize_t one_request(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    size_t blen = nl ? (size_t)(nl - data) : 0;
    const uint8_t *body = nl ? nl + 1 : data;
    size_t len = size - (size_t)(body - data);
    char head[600], resp[512];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    for (int tries = 0; fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0; tries++) {
        if (tries == 50)
            abort(); /* the server stopped accepting */
        close(fd);
        usleep(10000);
        fd = socket(AF_INET, SOCK_STREAM, 0);
    }
    if (fd < 0)
        abort();
    int hn = snprintf(head, sizeof head,
                      "POST /up/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Type: multipart/form-data; boundary=%.*s\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      (int)blen, (const char *)data, len);
    for (int i = 0; i < hn; i++) /* a CR or LF in the boundary would end the header */
        if ((head[i] == '\r' || head[i] == '\n') && i < hn - 4 &&
            !(head[i] == '\r' && head[i + 1] == '\n'))
            head[i] = '_';
    send_all(fd, head, (size_t)hn);
    send_all(fd, body, len);
    shutdown(fd, SHUT_WR);
    ssize_t got, total = 0;
    while ((got = recv(fd, resp, sizeof resp, 0)) > 0)
        total += got;
    struct linger lg = {1, 0}; /* reset on close: no TIME_WAIT, ports are not used up */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* every request gets an answer; one retry covers a connection the loaded
     * daemon dropped at accept time */
    if (one_request(data, size) <= 0) {
        usleep(20000);
        if (one_request(data, size) <= 0)
            abort();
    }
    return 0;
}
