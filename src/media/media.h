/* media.h - uploaded files of souk: type sniffing, dimensions, storage by
 * content hash, metadata stripping and thumbnails (API.md § Home services,
 * the paragraph on media types and /media/).
 *
 * Files live under SOUK_MEDIA_DIR as <dir>/<first two hex>/<sha256 hex>,
 * written to a temporary name, fsynced and renamed, so a name always holds
 * its full content and identical uploads share one file. Which rows refer to
 * a file is the owning domain's business (src/projects); this module only
 * reads, writes and removes files. Only src/media/ includes libvips and
 * libmagic.
 *
 * Thread-safe: libvips is initialised once (media_init) and is thread-safe;
 * the libmagic cookie is behind a mutex.
 */
#ifndef SOUK_MEDIA_H
#define SOUK_MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define MEDIA_HASH_LEN 65
#define MEDIA_THUMB_PX 400

struct media_info {
    const char *content_type; /* static: image/jpeg, image/png, image/webp, application/pdf */
    const char *kind;         /* "image" | "document" */
    const char *ext;          /* "jpg", "png", "webp", "pdf" */
    int width, height;        /* 0 for documents */
    int64_t size;
};

/* Once at start: libvips (VIPS_INIT), libmagic, the directories. */
int media_init(const char *media_dir, struct souk_errinfo *ei);
void media_shutdown(void);
/* The directory for temporary upload files (on the media file system). */
const char *media_tmp_dir(void);
/* Decides the type from the bytes and reads an image's dimensions by
 * decoding it: SOUK_UNSUPPORTED for another type or an undecodable image. */
int media_probe(const char *path, struct media_info *out, struct souk_errinfo *ei);
/* Moves a temporary file to its content-hash name (fsync, rename, fsync of
 * the directory). *created = 1 when the name did not exist before. */
int media_store(const char *tmp_path, const char *sha256, int *created, struct souk_errinfo *ei);
/* Path of a stored file (buf of at least 640 bytes). */
const char *media_path(const char *sha256, char *buf, size_t len);
/* Removes a stored file that is older than min_age_s (a file just stored
 * again by an upload that has not committed yet is left). 0 also when gone. */
int media_remove(const char *sha256, int min_age_s);
/* Re-encodes a stored image without metadata (EXIF, GPS, XMP, ICC kept out)
 * into a new stored file, and makes a thumbnail of at most MEDIA_THUMB_PX
 * on each side; both hashes out. */
int media_strip_and_thumb(const char *sha256, const char *content_type,
                          char stripped[MEDIA_HASH_LEN], char thumb[MEDIA_HASH_LEN],
                          struct souk_errinfo *ei);
/* Reads a stored file into malloc'd memory (for serving). */
int media_read(const char *sha256, char **data, size_t *len, struct souk_errinfo *ei);
/* Writes a generated image (demo data) as a stored PNG or JPEG. */
int media_make_image(int width, int height, int seed, const char *content_type,
                     char sha256[MEDIA_HASH_LEN], int64_t *size, struct souk_errinfo *ei);


#endif
