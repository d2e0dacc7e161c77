/* sandbox_http.c - the sandbox's wire: Stripe's REST subset and the hosted
 * checkout page, on the sandbox's own loopback server (sandbox.c starts it).
 *
 * This server speaks Stripe's protocol, not souk's: form-encoded bodies,
 * `Authorization: Bearer <secret key>` (checked here, by key_ok: the server
 * runs with no_auth_hook, so souk's JWT hook never sees Stripe keys), JSON
 * objects or Stripe error bodies
 * ({"error": {"type", "code", "message", "param"}}) with Stripe's status
 * codes, and Idempotency-Key replay (the first 2xx answer is stored with a
 * fingerprint of the request; a replay returns it with
 * `Idempotent-Replayed: true`, a different request under the same key is a
 * 400 idempotency_error, a concurrent one a 409). Status codes are chosen
 * here rather than in problem.c because they are Stripe's, not souk's.
 *
 *   POST   /v1/checkout/sessions              GET /v1/checkout/sessions/{s}
 *   POST   /v1/checkout/sessions/{s}/expire   POST /v1/refunds
 *   GET|POST|DELETE /v1/subscriptions/{s}     GET /v1/events/{e}
 *   GET|POST /checkout/{s}                    the hosted page (HTML form)
 *
 * Thread safety: handlers keep no state; see sandbox.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/money.h"
#include "http/http.h"
#include "payments/internal.h"

#define SBX_FLAGS (ROUTE_RAW_BODY | ROUTE_NO_API | ROUTE_NO_RATELIMIT | ROUTE_PRIVATE)
#define SBX_API (SBX_FLAGS | ROUTE_PROVIDER) /* the answer may wait SOUK_SANDBOX_LATENCY_MS */

/* ---- plumbing ---------------------------------------------------------------- */

static int answer(struct http_req *req, struct sbx_resp *out)
{
    http_set_header(req, "Stripe-Version", STRIPE_API_VERSION);
    return http_json(req, out->status, out->body ? out->body : json_object());
}

static int key_ok(const struct http_req *req)
{
    const char *h = http_header(req, "Authorization");
    const char *want = stripe_secret_key();
    size_t wl = strlen(want);

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    return strlen(h) == wl && sodium_memcmp(h, want, wl) == 0;
}

struct call {
    struct sbx_req in;
    const char *idem;
    const char *fingerprint;
    struct sbx_resp out;
    int replayed;
};

/* SOUK_SANDBOX_LATENCY_MS (default 0, at most 60000): every API answer
 * comes that much later, like a provider a few hundred ms away. The wait
 * parks the handler's fiber (ROUTE_PROVIDER), so it holds no thread. */
static int64_t latency_ms(void)
{
    static atomic_llong cached = -1;
    long long v = atomic_load(&cached);

    if (v < 0) {
        const char *e = getenv("SOUK_SANDBOX_LATENCY_MS");
        char *end;
        v = e && *e ? strtoll(e, &end, 10) : 0;
        if (!e || !*e || *end || v < 0 || v > 60000)
            v = 0;
        atomic_store(&cached, v);
    }
    return v;
}

/* Parses the form body and runs op in a transaction with idempotency. */
static int run_api(struct http_req *req, sbx_op op, const char *id)
{
    struct souk_errinfo ei = {0};
    struct call c = {0};
    int err;

    stripe_loop_sleep_ms(latency_ms());

    if (!key_ok(req)) {
        sbx_error(&c.out, 401, "invalid_request_error", NULL, NULL, "Invalid API Key provided.");
        return answer(req, &c.out);
    }
    c.in.n = form_parse(req->arena, req->body ? req->body : "", req->body_len,
                        (struct form_kv **)&c.in.kv);
    c.in.id = id;
    c.in.expand_invoice = http_query(req, "expand[0]") || http_query(req, "expand[]");
    if (strcmp(req->method, "POST") == 0 && http_header(req, "Idempotency-Key")) {
        c.idem = http_header(req, "Idempotency-Key");
        c.fingerprint = arena_sprintf(req->arena, "%s %s %s", req->method, req->path,
                                      req->body ? req->body : "");
    }
    err = sbx_call(req->db, op, &c.in, c.idem, c.fingerprint, &c.out, &c.replayed, &ei);
    if (err) {
        json_decref(c.out.body);
        c.out.body = NULL;
        if (err == SOUK_CONFLICT)
            sbx_error(&c.out, 409, "idempotency_error", NULL, NULL,
                      "There is currently another in-progress request using this Idempotent Key.");
        else
            sbx_error(&c.out, 500, "api_error", NULL, NULL, "The sandbox failed.");
        souk_errinfo_cleanup(&ei);
    }
    if (c.replayed)
        http_set_header(req, "Idempotent-Replayed", "true");
    return answer(req, &c.out);
}

/* ---- API routes -------------------------------------------------------------------- */

static int h_session_create(struct http_req *req)
{
    return run_api(req, sbx_session_create, NULL);
}

static int h_session_get(struct http_req *req)
{
    return run_api(req, sbx_session_get, http_param(req, 0));
}

static int h_session_expire(struct http_req *req)
{
    return run_api(req, sbx_session_expire, http_param(req, 0));
}

static int h_refund(struct http_req *req)
{
    return run_api(req, sbx_refund_create, NULL);
}

static int h_sub_get(struct http_req *req)
{
    return run_api(req, sbx_sub_get, http_param(req, 0));
}

static int h_sub_update(struct http_req *req)
{
    return run_api(req, sbx_sub_update, http_param(req, 0));
}

static int h_sub_cancel(struct http_req *req)
{
    return run_api(req, sbx_sub_cancel, http_param(req, 0));
}

static int h_event_get(struct http_req *req)
{
    return run_api(req, sbx_event_get, http_param(req, 0));
}

/* ---- the hosted checkout page ---------------------------------------------------------- */

static const char *esc(struct arena *a, const char *s)
{
    size_t n = 0;
    char *out, *p;

    s = s ? s : "";
    for (const char *q = s; *q; q++)
        n += (*q == '<' || *q == '>' || *q == '&' || *q == '"' || *q == '\'') ? 6 : 1;
    p = out = arena_alloc(a, n + 1);
    for (; *s; s++) {
        const char *r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
        if (r) {
            strcpy(p, r);
            p += strlen(r);
        } else {
            *p++ = *s;
        }
    }
    *p = 0;
    return out;
}

static const char *PAGE =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Pay %s - souk sandbox</title><style>"
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label,input,button{display:block;width:100%%;box-sizing:border-box;margin:.4rem 0}"
    "input{padding:.5rem;font-size:1.1rem}button{padding:.6rem;font-size:1.1rem}"
    ".err{color:#b00020}.note{color:#555;font-size:.9rem}</style></head><body>"
    "<p class=\"note\">souk payment sandbox: no real money moves.</p>"
    "<h1>%s</h1><p><strong id=\"amount\">%s %s</strong>%s</p>%s"
    "<form method=\"post\" action=\"/checkout/%s\">"
    "<label for=\"card_number\">Card number</label>"
    "<input id=\"card_number\" name=\"card_number\" inputmode=\"numeric\" "
    "autocomplete=\"off\" required placeholder=\"4242 4242 4242 4242\">"
    "<button type=\"submit\">Pay</button></form>"
    "<p class=\"note\">Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined; "
    "4000 0000 0000 0341 pays now and fails at every renewal; "
    "4000 0000 0000 5126 pays, but its refunds are refused; 4000 0027 6000 3184 asks for "
    "3-D Secure.</p>"
    "%s</body></html>";

static int page(struct http_req *req, int status, const json_t *s, const char *error)
{
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *cancel = json_string_value(json_object_get(s, "cancel_url"));
    const char *interval = json_string_value(json_object_get(s, "_interval"));
    char amount[MONEY_STR_LEN];
    const char *name = json_string_value(json_object_get(s, "_product"));
    char *html;

    money_format(json_integer_value(json_object_get(s, "amount_total")), amount);
    html = arena_sprintf(
        req->arena, PAGE, esc(req->arena, name), esc(req->arena, name), amount,
        esc(req->arena, json_string_value(json_object_get(s, "currency"))),
        interval ? arena_sprintf(req->arena, " every %s", esc(req->arena, interval)) : "",
        error ? arena_sprintf(req->arena, "<p class=\"err\" role=\"alert\">%s</p>",
                              esc(req->arena, error))
              : "",
        esc(req->arena, id),
        cancel ? arena_sprintf(req->arena, "<p><a href=\"%s\">Cancel and go back</a></p>",
                               esc(req->arena, cancel))
               : "");
    return http_text(req, status, "text/html; charset=utf-8", html, strlen(html));
}

static int simple_page(struct http_req *req, int status, const char *msg)
{
    char *html = arena_sprintf(req->arena,
                               "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                               "<title>souk sandbox</title></head><body><p>%s</p></body></html>",
                               esc(req->arena, msg));
    return http_text(req, status, "text/html; charset=utf-8", html, strlen(html));
}

/* Session plus what the page shows of its private part. */
static int session_for_page(struct http_req *req, json_t **out)
{
    struct souk_errinfo ei = {0};
    struct sbx_req in = {.id = http_param(req, 0), .for_page = 1};
    struct sbx_resp s = {0};
    int err = sbx_read(req->db, sbx_session_get, &in, &s, &ei);

    souk_errinfo_cleanup(&ei);
    *out = s.status == 200 ? s.body : NULL;
    if (!*out)
        json_decref(s.body);
    return err;
}

static int h_page_get(struct http_req *req)
{
    json_t *s = NULL;
    const char *status;

    if (session_for_page(req, &s) || !s)
        return simple_page(req, 404, "No such checkout session.");
    http_keep(req, s);
    status = json_string_value(json_object_get(s, "status"));
    if (strcmp(status, "expired") == 0)
        return simple_page(req, 410, "This checkout session has expired.");
    if (strcmp(status, "complete") == 0)
        return simple_page(req, 200, "This checkout session is already paid.");
    return page(req, 200, s, NULL);
}

/* The 3-D Secure step of card 4000002760003184. */
static int auth_page(struct http_req *req)
{
    const char *id = esc(req->arena, http_param(req, 0));
    char *html = arena_sprintf(
        req->arena,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Authenticate - souk sandbox</title></head><body>"
        "<p>souk payment sandbox: no real money moves.</p><h1>3-D Secure</h1>"
        "<p>Your bank asks you to confirm this payment.</p>"
        "<form method=\"post\" action=\"/checkout/%s/authenticate\">"
        "<button type=\"submit\" name=\"result\" value=\"approve\">Approve</button>"
        "<button type=\"submit\" name=\"result\" value=\"fail\">Fail</button>"
        "</form></body></html>",
        id);
    return http_text(req, 200, "text/html; charset=utf-8", html, strlen(html));
}

static int page_post(struct http_req *req, sbx_op op)
{
    struct souk_errinfo ei = {0};
    struct call c = {0};
    json_t *s = NULL;
    int err;

    c.in.n = form_parse(req->arena, req->body ? req->body : "", req->body_len,
                        (struct form_kv **)&c.in.kv);
    c.in.id = http_param(req, 0);
    err = sbx_call(req->db, op, &c.in, NULL, NULL, &c.out, &c.replayed, &ei);
    souk_errinfo_cleanup(&ei);
    http_keep(req, c.out.body);
    if (err)
        return simple_page(req, 500, "The sandbox failed; try again.");
    if (c.out.status == 303) {
        http_set_header(req, "Location",
                        json_string_value(json_object_get(c.out.body, "redirect")));
        return simple_page(req, 303, "Paid. Redirecting...");
    }
    if (c.out.status == 200 && json_is_true(json_object_get(c.out.body, "authenticate")))
        return auth_page(req);
    if (c.out.status == 404 || session_for_page(req, &s) || !s)
        return simple_page(req, 404, "No such checkout session.");
    http_keep(req, s);
    if (c.out.status == 409)
        return simple_page(req, 409, json_string_value(json_object_get(c.out.body, "message")));
    return page(req, c.out.status, s, json_string_value(json_object_get(c.out.body, "message")));
}

static int h_page_post(struct http_req *req)
{
    return page_post(req, sbx_checkout_pay);
}

static int h_authenticate(struct http_req *req)
{
    return page_post(req, sbx_checkout_authenticate);
}

/* ---- registration -------------------------------------------------------------------- */

void sandbox_http_register(struct router *r)
{
    http_route(r, "POST", "/v1/checkout/sessions", h_session_create, SBX_API,
               "sandbox: create a Checkout Session");
    http_route(r, "GET", "/v1/checkout/sessions/{session}", h_session_get, SBX_API,
               "sandbox: retrieve a Checkout Session");
    http_route(r, "POST", "/v1/checkout/sessions/{session}/expire", h_session_expire, SBX_API,
               "sandbox: expire a Checkout Session");
    http_route(r, "POST", "/v1/refunds", h_refund, SBX_API, "sandbox: create a refund");
    http_route(r, "GET", "/v1/subscriptions/{sub}", h_sub_get, SBX_API,
               "sandbox: retrieve a subscription");
    http_route(r, "POST", "/v1/subscriptions/{sub}", h_sub_update, SBX_API,
               "sandbox: update a subscription");
    http_route(r, "DELETE", "/v1/subscriptions/{sub}", h_sub_cancel, SBX_API,
               "sandbox: cancel a subscription");
    http_route(r, "GET", "/v1/events/{event}", h_event_get, SBX_API, "sandbox: an event");
    http_route(r, "GET", "/checkout/{session}", h_page_get, SBX_FLAGS,
               "sandbox: hosted checkout page");
    http_route(r, "POST", "/checkout/{session}", h_page_post, SBX_FLAGS,
               "sandbox: pay or decline (form field card_number)");
    http_route(r, "POST", "/checkout/{session}/authenticate", h_authenticate, SBX_FLAGS,
               "sandbox: 3-D Secure step (form field result=approve|fail)");
}
