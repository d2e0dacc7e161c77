/* media_http.c (projects) - GET /media/<media id>[-thumb].<ext> (API.md § Home services:
 * served with the sniffed Content-Type, X-Content-Type-Options: nosniff,
 * an ETag with 304 on If-None-Match, Cache-Control: public, max-age=31536000,
 * immutable; 404 at once for a file no live media row refers to).
 * The URL names the media, so it stays the same when the metadata-stripping
 * job points the row at the stripped file; the ETag is the file's content
 * hash. The rows are the showcase's (projects_media_lookup); the files, src/media's.
 * Stateless.
 */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "media/media.h"
#include "projects/projects.h"

/* name: "<media id>.<ext>" or "<media id>-thumb.<ext>" */
static int media_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char id[37] = "", etag[MEDIA_HASH_LEN + 2];
    const char *name = http_param(req, 0), *ct = NULL, *hash = NULL, *inm;
    int thumb = strncmp(name + strnlen(name, 36), "-thumb", 6) == 0;
    char *data = NULL;
    size_t len = 0;
    int err;
    if (strlen(name) > 36)
        memcpy(id, name, 36);
    if ((err = projects_media_lookup(req->db, id, thumb, req->arena, &ct, &hash, &ei)))
        return http_problem(req, err, &ei);
    snprintf(etag, sizeof etag, "\"%s\"", hash);
    http_set_header(req, "ETag", etag);
    http_set_header(req, "Cache-Control", "public, max-age=31536000, immutable");
    http_set_header(req, "X-Content-Type-Options", "nosniff");
    inm = http_header(req, "If-None-Match");
    if (inm && (strstr(inm, hash) || strcmp(inm, "*") == 0))
        return http_text(req, 304, ct, "", 0);
    if ((err = media_read(hash, &data, &len, &ei)))
        return http_problem(req, err, &ei);
    req->status = 200;
    req->resp_type = ct;
    req->resp_body = data;
    req->resp_len = len;
    req->resp_body_malloced = 1;
    return 0;
}

void projects_media_http_register(struct router *r)
{
    http_route(r, "GET", "/media/{name}", media_get, ROUTE_NO_API | ROUTE_PUBLIC,
               "A stored upload by content hash");
}
