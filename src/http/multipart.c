/* multipart.c - multipart/form-data bodies streamed to temporary files
 * (API.md § Conventions: "uploads are multipart/form-data"; § Home services:
 * a body may reach 12 × SOUK_MEDIA_MAX_BYTES + 1 MiB).
 *
 * On a ROUTE_MULTIPART route whose request says multipart/form-data, the
 * server (server.c) hands each body chunk here instead of buffering it;
 * libmicrohttpd's post processor splits the parts and calls part_data()
 * with pieces of each value. Text fields are kept in memory (at most
 * MP_FIELD_MAX bytes each, MP_PARTS_MAX parts); a file part goes to its own
 * mkstemp file under the configured directory, SHA-256 updated as it is
 * written. A file over the per-file limit is dropped at once (its file
 * removed) and the request is marked too large for the handler; a body over
 * the body limit is answered 413 by the server.
 *
 * Threads: a request's struct multipart is used by the MHD thread while the
 * body arrives and by one worker afterwards (the server's hand-off orders
 * them). The configuration is written once before servers start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/log.h"
#include "http/internal.h"
#include "http/router.h"

#define MP_PARTS_MAX 64
#define MP_FIELD_MAX (64 * 1024)
#define MP_PP_BUFFER (64 * 1024)

static char cfg_dir[512] = "/tmp";
static size_t cfg_max_file = 10u << 20;
static size_t cfg_max_body = (12u * (10u << 20)) + (1u << 20);

struct mp_part {
    struct http_part pub;
    char *buf;   /* text field value (malloc'd) */
    size_t cap;
    int fd;      /* file part: open temporary file, or -1 */
    char *tmp;   /* file part: its path (malloc'd) */
    crypto_hash_sha256_state sha;
};

struct multipart {
    struct MHD_PostProcessor *pp;
    struct mp_part parts[MP_PARTS_MAX];
    int n;
    size_t total;       /* body bytes fed */
    size_t max_body;
    int err;            /* SOUK_INVALID, SOUK_TOO_LARGE or 0 */
    char detail[160];
    struct http_part view[MP_PARTS_MAX];
};

void http_multipart_config(const char *tmp_dir, size_t max_file, size_t max_body)
{
    if (tmp_dir && *tmp_dir)
        snprintf(cfg_dir, sizeof cfg_dir, "%s", tmp_dir);
    if (max_file)
        cfg_max_file = max_file;
    if (max_body)
        cfg_max_body = max_body;
}

static void mp_fail(struct multipart *mp, int err, const char *detail)
{
    if (mp->err == SOUK_TOO_LARGE) /* the first size failure wins: it is the 413 */
        return;
    if (!mp->err || err == SOUK_TOO_LARGE) {
        mp->err = err;
        snprintf(mp->detail, sizeof mp->detail, "%s", detail);
    }
}

static void part_close(struct mp_part *p, int remove_file)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (remove_file && p->tmp) {
        unlink(p->tmp);
        free(p->tmp);
        p->tmp = NULL;
        p->pub.path = NULL;
    }
}

static int part_open_file(struct multipart *mp, struct mp_part *p)
{
    size_t len = strlen(cfg_dir) + sizeof "/upload-XXXXXX";
    p->tmp = malloc(len);
    if (!p->tmp)
        return -1;
    snprintf(p->tmp, len, "%s/upload-XXXXXX", cfg_dir);
    p->fd = mkostemp(p->tmp, O_CLOEXEC);
    if (p->fd < 0) {
        log_error("multipart: cannot create a file in %s: %s", cfg_dir, strerror(errno));
        free(p->tmp);
        p->tmp = NULL;
        mp_fail(mp, SOUK_INTERNAL, "cannot store the upload");
        return -1;
    }
    p->pub.path = p->tmp;
    crypto_hash_sha256_init(&p->sha);
    return 0;
}

static struct mp_part *part_new(struct multipart *mp, const char *key, const char *filename)
{
    if (mp->n >= MP_PARTS_MAX) {
        mp_fail(mp, SOUK_INVALID, "too many parts in the form");
        return NULL;
    }
    struct mp_part *p = &mp->parts[mp->n++];
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->pub.name = strdup(key ? key : "");
    p->pub.filename = filename ? strdup(filename) : NULL;
    if (filename && part_open_file(mp, p))
        return NULL;
    return p;
}

static int same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A part begins when the processor starts again at offset 0 under a
 * different part (an empty piece at offset 0 belongs to the part it opens). */
static struct mp_part *part_for(struct multipart *mp, const char *key, const char *filename,
                                uint64_t off)
{
    struct mp_part *cur = mp->n ? &mp->parts[mp->n - 1] : NULL;
    if (cur && (off > 0 || (cur->pub.size == 0 && strcmp(cur->pub.name, key ? key : "") == 0 &&
                            same_name(cur->pub.filename, filename))))
        return cur;
    return part_new(mp, key, filename);
}

static int field_append(struct multipart *mp, struct mp_part *p, const char *data, size_t size)
{
    if (p->pub.size + size > MP_FIELD_MAX) {
        mp_fail(mp, SOUK_INVALID, "a form field is too long");
        return -1;
    }
    if (p->pub.size + size + 1 > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        while (cap < p->pub.size + size + 1)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb)
            return -1;
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->pub.size, data, size);
    p->pub.size += size;
    p->buf[p->pub.size] = '\0';
    p->pub.value = p->buf;
    return 0;
}

static int file_append(struct multipart *mp, struct mp_part *p, const char *data, size_t size)
{
    if (!p->tmp) /* dropped: over the limit */
        return 0;
    if (p->pub.size + size > cfg_max_file) {
        part_close(p, 1);
        mp_fail(mp, SOUK_TOO_LARGE, "a file is larger than SOUK_MEDIA_MAX_BYTES");
        return 0;
    }
    crypto_hash_sha256_update(&p->sha, (const unsigned char *)data, size);
    while (size) {
        ssize_t w = write(p->fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_error("multipart: write %s: %s", p->tmp, strerror(errno));
            mp_fail(mp, SOUK_INTERNAL, "cannot store the upload");
            return -1;
        }
        data += w;
        size -= (size_t)w;
        p->pub.size += (size_t)w;
    }
    return 0;
}

static enum MHD_Result part_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    struct multipart *mp = cls;
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (mp->err && mp->err != SOUK_TOO_LARGE)
        return MHD_NO;
    struct mp_part *p = part_for(mp, key, filename, off);
    if (!p)
        return MHD_NO;
    if (size == 0)
        return MHD_YES;
    int rc = p->pub.filename ? file_append(mp, p, data, size) : field_append(mp, p, data, size);
    return rc ? MHD_NO : MHD_YES;
}

/* ---- server hooks ---------------------------------------------------------- */

static int is_multipart_type(const char *ct)
{
    return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

size_t multipart_begin(struct req_ctx *ctx, const struct router *r, size_t dflt)
{
    struct http_req *req = &ctx->req;
    struct router_match m;
    if (!is_multipart_type(http_header(req, "Content-Type")))
        return dflt;
    if (router_match(r, req->method, req->path, req->arena, &m) != ROUTER_FOUND ||
        !(m.route->flags & ROUTE_MULTIPART))
        return dflt;
    struct multipart *mp = calloc(1, sizeof *mp);
    if (!mp)
        return dflt;
    mp->max_body = cfg_max_body;
    mp->pp = MHD_create_post_processor(ctx->conn, MP_PP_BUFFER, part_data, mp);
    if (!mp->pp)
        mp_fail(mp, SOUK_INVALID, "malformed multipart/form-data header (boundary)");
    ctx->mp = mp;
    return cfg_max_body;
}

int multipart_feed(struct req_ctx *ctx, const char *data, size_t n)
{
    struct multipart *mp = ctx->mp;
    if (!mp)
        return 0;
    if (ctx->too_large)
        return 1;
    if (n > mp->max_body - mp->total) {
        ctx->too_large = 1; /* keep reading (and dropping) to answer 413 */
        return 1;
    }
    mp->total += n;
    if (mp->pp && (!mp->err || mp->err == SOUK_TOO_LARGE) &&
        MHD_post_process(mp->pp, data, n) != MHD_YES)
        mp_fail(mp, SOUK_INVALID, "malformed multipart/form-data body");
    return 1;
}

void multipart_end(struct req_ctx *ctx)
{
    struct multipart *mp = ctx->mp;
    if (!mp)
        return;
    if (mp->pp) {
        if (MHD_destroy_post_processor(mp->pp) != MHD_YES)
            mp_fail(mp, SOUK_INVALID, "truncated multipart/form-data body");
        mp->pp = NULL;
    }
    for (int i = 0; i < mp->n; i++) {
        struct mp_part *p = &mp->parts[i];
        if (p->pub.filename && p->tmp) {
            unsigned char h[crypto_hash_sha256_BYTES];
            crypto_hash_sha256_final(&p->sha, h);
            sodium_bin2hex(p->pub.sha256, sizeof p->pub.sha256, h, sizeof h);
        }
        part_close(p, 0);
        if (!p->pub.filename && !p->pub.value)
            p->pub.value = "";
        mp->view[i] = p->pub;
    }
}

void multipart_free(struct req_ctx *ctx)
{
    struct multipart *mp = ctx->mp;
    if (!mp)
        return;
    if (mp->pp)
        MHD_destroy_post_processor(mp->pp);
    for (int i = 0; i < mp->n; i++) {
        struct mp_part *p = &mp->parts[i];
        part_close(p, 1); /* a handler that kept a file renamed it away: unlink is a no-op */
        free(p->buf);
        free((char *)p->pub.name);
        free((char *)p->pub.filename);
    }
    free(mp);
    ctx->mp = NULL;
}

/* ---- handler side ------------------------------------------------------------ */

int http_is_multipart(const struct http_req *req)
{
    return req_ctx_of(req)->mp != NULL;
}

int http_multipart(const struct http_req *req, const struct http_part **parts, int *n,
                   struct souk_errinfo *ei)
{
    struct multipart *mp = req_ctx_of(req)->mp;
    *parts = NULL;
    *n = 0;
    if (!mp)
        return 0;
    if (mp->err)
        return souk_fail(ei, mp->err, "%s", mp->detail);
    *parts = mp->view;
    *n = mp->n;
    return 0;
}
