/* ops.h - operational endpoints: GET /healthz, /readyz, /metrics,
 * /api/schema/ (the embedded OpenAPI document) and /api/docs/ (a
 * self-contained page that renders it). */
#ifndef SOUK_HTTP_OPS_H
#define SOUK_HTTP_OPS_H

struct router;

void ops_http_register(struct router *r);

#endif
