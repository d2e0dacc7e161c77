/* view.h - what the handler files of src/projects share: JSON views of
 * projects and specialists, offset cursors. Included by *_http.c only.
 */
#ifndef SOUK_PROJECTS_VIEW_H
#define SOUK_PROJECTS_VIEW_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct http_req;
struct page;
struct project;
struct router;
struct specialist;

int view_page(struct http_req *req, struct page *pg, int64_t *offset, struct souk_errinfo *ei);
json_t *view_envelope(struct http_req *req, const struct page *pg, int64_t offset, json_t *rows);
json_t *view_project(struct http_req *req, const struct project *p);
json_t *view_specialist(const struct specialist *s);
/* The user id, else "ip:<client address>". */
const char *view_viewer_key(struct http_req *req);
void projects_http_register_crud(struct router *r);

#endif
