/* media.c - files of uploads: sniffing (libmagic), decoding and dimensions,
 * metadata stripping and thumbnails (libvips), storage by content hash
 * (API.md § Home services, media paragraph). See media.h.
 *
 * Shared between threads: the media directory (written once by media_init)
 * and the libmagic cookie, used under magic_mu (libmagic is not
 * thread-safe). libvips is thread-safe once VIPS_INIT has run.
 */
#include "media/media.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <magic.h>
#include <sodium.h>
#include <vips/vips.h>

#include "core/log.h"

static char media_dir[512];
static char tmp_dir[600];
static magic_t magic_cookie;
static pthread_mutex_t magic_mu = PTHREAD_MUTEX_INITIALIZER;
static int vips_ready;

static const struct {
    const char *type, *kind, *ext;
} types[] = {
    {"image/jpeg", "image", "jpg"},
    {"image/png", "image", "png"},
    {"image/webp", "image", "webp"},
    {"application/pdf", "document", "pdf"},
};

static int mkdir_one(const char *p)
{
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int media_init(const char *dir, struct souk_errinfo *ei)
{
    snprintf(media_dir, sizeof media_dir, "%s", dir && *dir ? dir : "./data/media");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", media_dir);
    if (mkdir_one(media_dir) || mkdir_one(tmp_dir))
        return souk_fail(ei, SOUK_INTERNAL, "SOUK_MEDIA_DIR: cannot create %s: %s", tmp_dir,
                         strerror(errno));
    if (!vips_ready) {
        if (VIPS_INIT("souk"))
            return souk_fail(ei, SOUK_INTERNAL, "libvips: %s", vips_error_buffer());
        vips_cache_set_max(0); /* every file is read once: no operation cache */
        vips_ready = 1;
    }
    pthread_mutex_lock(&magic_mu);
    if (!magic_cookie) {
        magic_cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
        if (!magic_cookie || magic_load(magic_cookie, NULL) != 0) {
            pthread_mutex_unlock(&magic_mu);
            return souk_fail(ei, SOUK_INTERNAL, "libmagic: cannot load the database");
        }
    }
    pthread_mutex_unlock(&magic_mu);
    return SOUK_OK;
}

void media_shutdown(void)
{
    pthread_mutex_lock(&magic_mu);
    if (magic_cookie)
        magic_close(magic_cookie);
    magic_cookie = NULL;
    pthread_mutex_unlock(&magic_mu);
}

const char *media_tmp_dir(void)
{
    return tmp_dir;
}

const char *media_path(const char *sha256, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%.2s/%s", media_dir, sha256, sha256);
    return buf;
}

static int sniff(const char *path, struct media_info *out)
{
    char type[64] = "";
    pthread_mutex_lock(&magic_mu);
    const char *t = magic_cookie ? magic_file(magic_cookie, path) : NULL;
    if (t)
        snprintf(type, sizeof type, "%s", t);
    pthread_mutex_unlock(&magic_mu);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(type, types[i].type) == 0) {
            out->content_type = types[i].type;
            out->kind = types[i].kind;
            out->ext = types[i].ext;
            return 0;
        }
    return -1;
}

/* Decodes the whole image (a truncated or corrupt one fails here). */
static int decode(const char *path, struct media_info *out)
{
    VipsImage *img = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL,
                                              "fail_on", VIPS_FAIL_ON_ERROR, NULL);
    double avg;
    if (!img) {
        vips_error_clear();
        return -1;
    }
    int rc = vips_avg(img, &avg, NULL);
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    g_object_unref(img);
    vips_error_clear();
    vips_thread_shutdown();
    return rc;
}

int media_probe(const char *path, struct media_info *out, struct souk_errinfo *ei)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    if (stat(path, &st) != 0)
        return souk_fail(ei, SOUK_INTERNAL, "upload vanished: %s", strerror(errno));
    out->size = st.st_size;
    if (sniff(path, out))
        return souk_fail(ei, SOUK_UNSUPPORTED,
                         "Only JPEG, PNG, WebP images and PDF documents are accepted.");
    if (strcmp(out->kind, "image") == 0 && decode(path, out))
        return souk_fail(ei, SOUK_UNSUPPORTED, "The image cannot be decoded.");
    return SOUK_OK;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int media_store(const char *tmp_path, const char *sha256, int *created, struct souk_errinfo *ei)
{
    char dir[600], dst[640];
    *created = 0;
    snprintf(dir, sizeof dir, "%s/%.2s", media_dir, sha256);
    media_path(sha256, dst, sizeof dst);
    if (mkdir_one(dir))
        return souk_fail(ei, SOUK_INTERNAL, "media: mkdir %s: %s", dir, strerror(errno));
    if (access(dst, F_OK) == 0) { /* the same bytes are there: refresh its age for the sweep */
        unlink(tmp_path);
        utimensat(AT_FDCWD, dst, NULL, 0);
        return SOUK_OK;
    }
    if (fsync_path(tmp_path, O_RDONLY) || rename(tmp_path, dst) || fsync_path(dir, O_RDONLY))
        return souk_fail(ei, SOUK_INTERNAL, "media: store %s: %s", dst, strerror(errno));
    *created = 1;
    return SOUK_OK;
}

int media_remove(const char *sha256, int min_age_s)
{
    char p[640];
    struct stat st;
    media_path(sha256, p, sizeof p);
    if (stat(p, &st) != 0)
        return 0;
    if (min_age_s > 0 && st.st_mtime > time(NULL) - min_age_s)
        return -1;
    return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

int media_read(const char *sha256, char **data, size_t *len, struct souk_errinfo *ei)
{
    char p[640];
    struct stat st;
    int fd = open(media_path(sha256, p, sizeof p), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return souk_fail(ei, SOUK_NOT_FOUND, "no such file");
    if (fstat(fd, &st) != 0 || !(*data = malloc(st.st_size ? (size_t)st.st_size : 1))) {
        close(fd);
        return souk_fail(ei, SOUK_INTERNAL, "media: cannot read %s", p);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return SOUK_OK;
}

/* ---- re-encoding ------------------------------------------------------------- */

static int hash_file(const char *path, char out[MEDIA_HASH_LEN])
{
    unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r;
    if (fd < 0)
        return -1;
    crypto_hash_sha256_init(&st);
    while ((r = read(fd, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&st, buf, (size_t)r);
    close(fd);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, MEDIA_HASH_LEN, h, sizeof h);
    return r < 0 ? -1 : 0;
}

/* Saves img without metadata in the format of content_type, then stores it. */
static int save_stored(VipsImage *img, const char *content_type, char out[MEDIA_HASH_LEN],
                       struct souk_errinfo *ei)
{
    char tmp[700];
    int rc, created;
    snprintf(tmp, sizeof tmp, "%s/enc-XXXXXX", tmp_dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return souk_fail(ei, SOUK_INTERNAL, "media: temp file: %s", strerror(errno));
    close(fd);
    if (strcmp(content_type, "image/png") == 0)
        rc = vips_pngsave(img, tmp, "strip", TRUE, NULL);
    else if (strcmp(content_type, "image/webp") == 0)
        rc = vips_webpsave(img, tmp, "strip", TRUE, NULL);
    else
        rc = vips_jpegsave(img, tmp, "strip", TRUE, "Q", 90, NULL);
    if (rc || hash_file(tmp, out)) {
        unlink(tmp);
        rc = souk_fail(ei, SOUK_INTERNAL, "media: encode: %s", vips_error_buffer());
        vips_error_clear();
        return rc;
    }
    return media_store(tmp, out, &created, ei);
}

int media_strip_and_thumb(const char *sha256, const char *content_type,
                          char stripped[MEDIA_HASH_LEN], char thumb[MEDIA_HASH_LEN],
                          struct souk_errinfo *ei)
{
    char p[640];
    VipsImage *img = NULL, *t = NULL;
    int err = SOUK_OK;
    media_path(sha256, p, sizeof p);
    if (!(img = vips_image_new_from_file(p, "access", VIPS_ACCESS_SEQUENTIAL, NULL)))
        err = souk_fail(ei, SOUK_PRECONDITION, "media: cannot load %s", sha256);
    else if (!(err = save_stored(img, content_type, stripped, ei))) {
        if (vips_thumbnail(p, &t, MEDIA_THUMB_PX, "height", MEDIA_THUMB_PX, "size",
                           VIPS_SIZE_DOWN, NULL))
            err = souk_fail(ei, SOUK_INTERNAL, "media: thumbnail: %s", vips_error_buffer());
        else
            err = save_stored(t, content_type, thumb, ei);
    }
    if (t)
        g_object_unref(t);
    if (img)
        g_object_unref(img);
    vips_error_clear();
    vips_thread_shutdown();
    return err;
}

int media_make_image(int width, int height, int seed, const char *content_type,
                     char sha256[MEDIA_HASH_LEN], int64_t *size, struct souk_errinfo *ei)
{
    VipsImage *x = NULL, *rgb = NULL;
    char p[640];
    struct stat st;
    int err;
    /* a smooth pattern: x-y coordinates scaled into three bands */
    if (vips_xyz(&x, width, height, NULL) ||
        vips_linear1(x, &rgb, 255.0 / (width + height), (double)(seed * 37 % 200), NULL)) {
        err = souk_fail(ei, SOUK_INTERNAL, "media: generate: %s", vips_error_buffer());
    } else {
        VipsImage *bands = NULL, *u8 = NULL;
        VipsImage *in[3] = {rgb, rgb, rgb};
        if (vips_bandjoin(in, &bands, 3, NULL) || vips_cast_uchar(bands, &u8, NULL) ||
            vips_copy(u8, &bands, "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
            err = souk_fail(ei, SOUK_INTERNAL, "media: generate: %s", vips_error_buffer());
        else
            err = save_stored(bands, content_type, sha256, ei);
        if (u8)
            g_object_unref(u8);
        if (bands)
            g_object_unref(bands);
    }
    if (!err && size)
        *size = stat(media_path(sha256, p, sizeof p), &st) == 0 ? st.st_size : 0;
    if (rgb)
        g_object_unref(rgb);
    if (x)
        g_object_unref(x);
    vips_error_clear();
    return err;
}
