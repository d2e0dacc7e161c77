/* ops.h - operational endpoints: GET /healthz, /readyz, /metrics,
 * /api/schema/ (the embedded OpenAPI document) and /api/docs/ (a
 * self-contained page that renders it). */
#ifndef SOUK_HTTP_OPS_H
#define SOUK_HTTP_OPS_H

struct router;

void ops_http_register(struct router *r);
/* Once every route of the API server is registered (app_register_routes
 * calls it last): the schema served drops the x-souk-test-only operations
 * that router does not serve. */
void ops_schema_finalize(const struct router *r);

#endif
