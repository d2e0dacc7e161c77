/* ops.c - endpoints for operators and API readers.
 *
 *   GET /healthz      the process is up (no database access)
 *   GET /readyz       the database answers `SELECT 1` (503 while stopping)
 *   GET /metrics      Prometheus text (see core/metrics.h)
 *   GET /api/schema/  the OpenAPI document embedded at build time, less the
 *                     operations marked x-souk-test-only that this server
 *                     does not serve (ops_schema_finalize), so that it lists
 *                     exactly the routes the running binary serves
 *   GET /api/docs/    a page rendering that document; self-contained (no
 *                     CDN): a small vanilla-JS renderer below, which builds
 *                     the DOM with textContent only (no HTML injection).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/metrics.h"
#include "db/db.h"
#include "http/internal.h"
#include "http/ops.h"

extern const char souk_openapi_json[];
extern const size_t souk_openapi_json_len;

static int get_healthz(struct http_req *req)
{
    return http_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static int get_readyz(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    if (http_server_stopping())
        return http_problem(req, souk_fail(&ei, SOUK_UNAVAILABLE, "shutting down"), &ei);
    if (!req->db)
        return http_problem(req, souk_fail(&ei, SOUK_UNAVAILABLE, "no database"), &ei);
    int err = db_ping(req->db, &ei);
    if (err)
        return http_problem(req, SOUK_UNAVAILABLE, &ei);
    return http_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static int get_metrics(struct http_req *req)
{
    if (req->db) {
        metrics_gauge_set("souk_db_pool_size", NULL, db_pool_size(req->db));
        metrics_gauge_set("souk_db_pool_in_use", NULL, db_pool_in_use(req->db));
    }
    metrics_gauge_set("souk_sse_streams", NULL, sse_stream_count());
    char *text = metrics_render();
    http_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
    return 0;
}

/* The document served: the embedded one, or its trimmed copy (set once,
 * before the server serves; read-only afterwards). */
static char *schema_trimmed;

/* "/api/x/{id}/" -> "/api/x/{}/" (parameter names differ between the two). */
static void template_shape(const char *t, char *out, size_t n)
{
    size_t o = 0;

    for (; *t && o + 3 < n; t++) {
        out[o++] = *t;
        if (*t == '{')
            while (t[1] && t[1] != '}')
                t++;
    }
    out[o] = 0;
}

static int route_served(const struct http_route_info *routes, int n, const char *method,
                        const char *path)
{
    char want[256], have[256];

    template_shape(path, want, sizeof want);
    for (int i = 0; i < n; i++) {
        template_shape(routes[i].tmpl, have, sizeof have);
        if (!strcasecmp(routes[i].method, method) && !strcmp(have, want))
            return 1;
    }
    return 0;
}

/* Drops from paths the test-only operations that are not served; returns how many. */
static int drop_unserved(json_t *paths, const struct http_route_info *routes, int n)
{
    const char *path, *method;
    json_t *item, *op, *tmp, *tmp2;
    int dropped = 0;

    json_object_foreach_safe(paths, tmp, path, item) {
        json_object_foreach_safe(item, tmp2, method, op) {
            if (json_is_true(json_object_get(op, "x-souk-test-only")) &&
                !route_served(routes, n, method, path)) {
                json_object_del(item, method);
                dropped++;
            }
        }
        if (!json_object_get(item, "get") && !json_object_get(item, "post") &&
            !json_object_get(item, "put") && !json_object_get(item, "patch") &&
            !json_object_get(item, "delete"))
            json_object_del(paths, path);
    }
    return dropped;
}

void ops_schema_finalize(const struct router *r)
{
    enum { ROUTES_MAX = 1024 };
    struct http_route_info *routes = calloc(ROUTES_MAX, sizeof *routes);
    json_t *doc = json_loadb(souk_openapi_json, souk_openapi_json_len, 0, NULL);
    int n = routes ? http_routes(r, routes, ROUTES_MAX) : 0;

    if (doc && routes && !schema_trimmed &&
        drop_unserved(json_object_get(doc, "paths"), routes, n) > 0)
        schema_trimmed = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    free(routes);
}

static int get_schema(struct http_req *req)
{
    if (schema_trimmed)
        return http_text(req, 200, "application/json; charset=utf-8", schema_trimmed,
                         strlen(schema_trimmed));
    return http_text(req, 200, "application/json; charset=utf-8", souk_openapi_json,
                     souk_openapi_json_len);
}

static const char docs_html[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>souk API</title>\n<style>\n"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\n"
    "header{background:#233;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}\n"
    "main{max-width:1000px;margin:0 auto;padding:16px 24px}\n"
    "input{width:100%;padding:8px;font-size:15px;margin:8px 0 16px;box-sizing:border-box}\n"
    "details{background:#fff;border:1px solid #ddd;border-radius:6px;margin:6px 0}\n"
    "summary{cursor:pointer;padding:8px 10px;font-family:ui-monospace,monospace}\n"
    ".m{display:inline-block;min-width:64px;font-weight:bold;text-transform:uppercase}\n"
    ".get{color:#07a}.post{color:#070}.put,.patch{color:#a60}.delete{color:#b00}\n"
    ".s{color:#555;font-family:system-ui,sans-serif;margin-left:8px}\n"
    ".body{padding:4px 14px 12px}table{border-collapse:collapse;width:100%}\n"
    "td,th{border-bottom:1px solid #eee;text-align:left;padding:4px 6px;vertical-align:top}\n"
    "pre{background:#f4f4f4;padding:8px;overflow:auto;font-size:13px}h4{margin:10px 0 4px}\n"
    "</style></head><body><header><h1 id=\"title\">souk API</h1></header><main>\n"
    "<p id=\"desc\"></p><input id=\"q\" placeholder=\"Filter paths (e.g. orders)\">\n"
    "<div id=\"ops\">Loading /api/schema/ ...</div><h2>Schemas</h2><div id=\"schemas\"></div>\n"
    "</main><script>\n"
    "'use strict';\n"
    "function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;"
    "if(x!==undefined)e.textContent=x;return e;}\n"
    "var doc={};\n"
    "function deref(s){var seen=0;while(s&&s.$ref&&seen++<20){var p=s.$ref.replace(/^#\\//,'')"
    ".split('/'),o=doc;p.forEach(function(k){o=o&&o[k];});s=o;}return s||{};}\n"
    "function typeOf(s){if(!s)return '';if(s.$ref)return s.$ref.split('/').pop();"
    "s=deref(s);if(s.type==='array')return typeOf(s.items)+'[]';"
    "if(s.enum)return (s.type||'')+' ('+s.enum.join(' | ')+')';"
    "var t=Array.isArray(s.type)?s.type.join(' | '):(s.type||'object');"
    "return s.format?t+' <'+s.format+'>':t;}\n"
    "function schemaTable(s){s=deref(s);var box=el('div');"
    "if(s.type==='array'){box.appendChild(el('div','',typeOf(s)));s=deref(s.items);}"
    "var props=s.properties||{},req=s.required||[],keys=Object.keys(props);"
    "if(!keys.length){box.appendChild(el('pre','',JSON.stringify(s,null,2)));return box;}"
    "var t=el('table'),h=el('tr');['field','type','required','description'].forEach("
    "function(x){h.appendChild(el('th','',x));});t.appendChild(h);"
    "keys.forEach(function(k){var p=props[k],r=el('tr');r.appendChild(el('td','',k));"
    "r.appendChild(el('td','',typeOf(p)));r.appendChild(el('td','',req.indexOf(k)>=0?'yes':''));"
    "r.appendChild(el('td','',deref(p).description||''));t.appendChild(r);});"
    "box.appendChild(t);return box;}\n"
    "function params(list){var t=el('table'),h=el('tr');"
    "['name','in','type','required','description'].forEach(function(x){h.appendChild(el('th','',x)"
    ");});t.appendChild(h);list.forEach(function(p){p=deref(p);var r=el('tr');"
    "[p.name,p.in,typeOf(p.schema),p.required?'yes':'',p.description||''].forEach(function(x){"
    "r.appendChild(el('td','',x));});t.appendChild(r);});return t;}\n"
    "function content(c){var k=c&&Object.keys(c)[0];return k?{type:k,schema:c[k].schema}:null;}\n"
    "function operation(path,m,op,common){var d=el('details'),s=el('summary');"
    "d.dataset.path=path.toLowerCase();s.appendChild(el('span','m '+m,m));"
    "s.appendChild(document.createTextNode(path));"
    "s.appendChild(el('span','s',op.summary||''));d.appendChild(s);var b=el('div','body');"
    "if(op.description)b.appendChild(el('p','',op.description));"
    "var ps=(common||[]).concat(op.parameters||[]);"
    "if(ps.length){b.appendChild(el('h4','','Parameters'));b.appendChild(params(ps));}"
    "var rb=op.requestBody&&content(deref(op.requestBody).content);"
    "if(rb){b.appendChild(el('h4','','Request body ('+rb.type+')'));"
    "b.appendChild(schemaTable(rb.schema));}"
    "Object.keys(op.responses||{}).forEach(function(code){var r=deref(op.responses[code]);"
    "b.appendChild(el('h4','','Response '+code+(r.description?' - '+r.description:'')));"
    "var c=content(r.content);if(c)b.appendChild(schemaTable(c.schema));});"
    "d.appendChild(b);return d;}\n"
    "function render(){document.getElementById('title').textContent="
    "(doc.info&&doc.info.title||'API')+' '+(doc.info&&doc.info.version||'');"
    "document.getElementById('desc').textContent=doc.info&&doc.info.description||'';"
    "var ops=document.getElementById('ops');ops.textContent='';var paths=doc.paths||{};"
    "Object.keys(paths).sort().forEach(function(p){var item=paths[p];"
    "['get','post','put','patch','delete','options','head'].forEach(function(m){"
    "if(item[m])ops.appendChild(operation(p,m,item[m],item.parameters));});});"
    "if(!ops.children.length)ops.textContent='No paths documented yet.';"
    "var sc=document.getElementById('schemas'),all=doc.components&&doc.components.schemas||{};"
    "Object.keys(all).sort().forEach(function(n){var d=el('details'),s=el('summary','',n);"
    "d.appendChild(s);var b=el('div','body');b.appendChild(schemaTable(all[n]));"
    "d.appendChild(b);sc.appendChild(d);});}\n"
    "document.getElementById('q').addEventListener('input',function(e){var q=e.target.value"
    ".toLowerCase();document.querySelectorAll('#ops details').forEach(function(d){"
    "d.style.display=d.dataset.path.indexOf(q)>=0?'':'none';});});\n"
    "fetch('/api/schema/').then(function(r){return r.json();}).then(function(j){doc=j;render();})"
    ".catch(function(e){document.getElementById('ops').textContent='Cannot load schema: '+e;});\n"
    "</script></body></html>\n";

static int get_docs(struct http_req *req)
{
    http_set_header(req, "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; frame-ancestors 'none'");
    return http_text(req, 200, "text/html; charset=utf-8", docs_html, sizeof docs_html - 1);
}

void ops_http_register(struct router *r)
{
    unsigned bare = ROUTE_NO_API | ROUTE_NO_RATELIMIT;
    http_route(r, "GET", "/healthz", get_healthz, bare, "Liveness: the process is up");
    http_route(r, "GET", "/readyz", get_readyz, bare, "Readiness: the database answers");
    http_route(r, "GET", "/metrics", get_metrics, bare, "Prometheus metrics");
    http_route(r, "GET", "/api/schema/", get_schema, ROUTE_PUBLIC, "The OpenAPI document");
    http_route(r, "GET", "/api/docs/", get_docs, ROUTE_PUBLIC, "API documentation page");
}
