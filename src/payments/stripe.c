/* stripe.c - the one Stripe API client (libcurl), used against Stripe
 * itself (SOUK_PAYMENTS=stripe) and against the built-in sandbox.
 *
 * Wire format per ../shared/spec/STRIPE.md §3: form-encoded bodies with
 * bracket notation (form.c), `Authorization: Bearer <secret key>`, a pinned
 * `Stripe-Version`, an `Idempotency-Key` on every POST (chosen by the
 * caller from the logical operation and reused verbatim on each retry).
 * Retries: connection errors/timeouts, 409, 429 and 5xx (and whatever
 * `Stripe-Should-Retry: true` says), exponential backoff from
 * SOUK_STRIPE_RETRY_BASE_MS (default 500 ms) capped at 5 s, jittered to
 * 50-100 %, up to SOUK_STRIPE_MAX_RETRIES (default 2) retries. A 429 or 503
 * with `Retry-After` (seconds or an HTTP date) waits exactly that long
 * instead. The whole call, retries and waits included, ends by its deadline,
 * SOUK_STRIPE_TIMEOUT_SECONDS (default 80 s) after it started: each attempt
 * gets what is left, and a wait that would pass the deadline is not made
 * (the last answer is the call's answer).
 *
 * A call made in a fiber (a ROUTE_PROVIDER handler) runs on the provider
 * loop (stripe_loop.c) and parks the fiber for each exchange and each wait;
 * elsewhere it blocks its own thread.
 *
 * Thread safety: every call uses its own curl handle; stripe_client_init()
 * (curl_global_init) runs once before threads start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "payments/internal.h"

#define RESP_MAX (4 * 1024 * 1024)

struct resp {
    char *body;
    size_t len;
    char request_id[80];
    int should_retry;    /* -1 absent, 0 false, 1 true */
    int64_t retry_after; /* ms asked by Retry-After, -1 absent */
    int sent;            /* no answer, but the request may have reached the provider */
};

static int max_retries = 2;
static int retry_base_ms = 500;
static long timeout_s = 80;

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (!v || !*v)
        return def;
    n = strtol(v, &end, 10);
    return (*end || n < lo || n > hi) ? def : (int)n;
}

int stripe_client_init(void)
{
    max_retries = env_int("SOUK_STRIPE_MAX_RETRIES", 2, 0, 10);
    retry_base_ms = env_int("SOUK_STRIPE_RETRY_BASE_MS", 500, 1, 60000);
    timeout_s = env_int("SOUK_STRIPE_TIMEOUT_SECONDS", 80, 1, 600);
    metrics_describe("souk_provider_retries_total",
                     "Payment provider requests sent again (same idempotency key), by status.");
    metrics_describe("souk_provider_unknown_outcomes_total",
                     "Payment provider calls that ended without a definite answer (timed out or "
                     "cut off after sending); a job asks again.");
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void stripe_client_cleanup(void)
{
    stripe_loop_stop();
    curl_global_cleanup();
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t add = sz * n;

    if (r->len + add > RESP_MAX)
        return 0; /* aborts the transfer */
    r->body = realloc(r->body, r->len + add + 1);
    if (!r->body)
        return 0;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = 0;
    return add;
}

/* Header value of `name` in one raw header line, or NULL. */
static const char *header_is(const char *line, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *v;

    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return NULL;
    v = line + nl + 1;
    while (v < line + n && *v == ' ')
        v++;
    *vlen = (size_t)(line + n - v);
    while (*vlen && (v[*vlen - 1] == '\r' || v[*vlen - 1] == '\n'))
        (*vlen)--;
    return v;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms
 * from now; -1 when it is neither. */
static int64_t retry_after_ms(const char *v, size_t n)
{
    char buf[64];
    char *end;
    long long secs;
    time_t at;

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    if (buf[0] >= '0' && buf[0] <= '9') {
        secs = strtoll(buf, &end, 10);
        return (*end || secs > 86400) ? -1 : secs * 1000;
    }
    if ((at = curl_getdate(buf, NULL)) < 0)
        return -1;
    return at <= time(NULL) ? 0 : ((int64_t)at - time(NULL)) * 1000;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = sz * n, vlen;
    const char *v;

    if ((v = header_is(p, len, "Request-Id", &vlen)))
        snprintf(r->request_id, sizeof r->request_id, "%.*s", (int)vlen, v);
    else if ((v = header_is(p, len, "Stripe-Should-Retry", &vlen)))
        r->should_retry = vlen == 4 && strncasecmp(v, "true", 4) == 0;
    else if ((v = header_is(p, len, "Retry-After", &vlen)))
        r->retry_after = retry_after_ms(v, vlen);
    return len;
}

static struct curl_slist *make_headers(const char *idem_key)
{
    struct curl_slist *h = NULL;
    char line[512];

    snprintf(line, sizeof line, "Authorization: Bearer %s", stripe_secret_key());
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Stripe-Version: " STRIPE_API_VERSION);
    h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "User-Agent: souk-stripe/1");
    h = curl_slist_append(h, "Expect:");
    if (idem_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", idem_key);
        h = curl_slist_append(h, line);
    }
    sodium_memzero(line, sizeof line);
    return h;
}

/* One HTTP exchange of at most timeout_ms. Returns the curl code; *status
 * the HTTP status. */
static CURLcode exchange(const char *method, const char *url, const struct form *body,
                         struct curl_slist *hdrs, int64_t timeout_ms, struct resp *r,
                         long *status)
{
    CURL *c = curl_easy_init();
    CURLcode rc;
    int64_t t0;

    if (!c)
        return CURLE_FAILED_INIT;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? (long)timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body->buf : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)body->len : 0L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    t0 = mono_ms();
    rc = stripe_loop_perform(c); /* a fiber parks here; a plain thread blocks */
    metrics_observe("souk_provider_call_duration_seconds", NULL, (double)(mono_ms() - t0) / 1e3);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return rc;
}

static int retryable(long status, int should_retry)
{
    if (should_retry >= 0)
        return should_retry;
    return status == 0 || status == 409 || status == 429 || status >= 500;
}

/* How long to wait before retry number `attempt`: what Retry-After asked on
 * a 429 or 503, else the jittered exponential backoff. */
static int64_t retry_wait_ms(int attempt, long status, const struct resp *r)
{
    long ms = (long)retry_base_ms << (attempt - 1);

    if ((status == 429 || status == 503) && r->retry_after >= 0)
        return r->retry_after;
    if (ms > 5000)
        ms = 5000;
    return ms / 2 + (long)randombytes_uniform((uint32_t)(ms / 2 + 1));
}

/* Maps a non-2xx answer to a souk error with Stripe's message. */
static int map_error(long status, const struct resp *r, const char *path,
                     struct souk_errinfo *ei)
{
    json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    int err = status == 404 ? SOUK_NOT_FOUND : SOUK_UPSTREAM;

    log_json(LOG_WARN, "stripe request failed",
             json_pack("{s:s, s:i, s:s?, s:s?, s:s}", "path", path, "status", (int)status,
                       "type", type, "code", code, "request_id", r->request_id));
    if (status == 0 && r->sent) {
        /* timed out or lost the connection after sending: the provider may
         * have acted; retrying with the same idempotency key tells. */
        souk_fail(ei, err, "payment provider did not answer in time (%s)", path);
        if (ei) {
            json_decref(ei->extra);
            ei->extra = json_pack("{s:s}", "provider_outcome", "unknown");
        }
        metrics_counter_add("souk_provider_unknown_outcomes_total", NULL, 1);
    } else if (status == 0)
        souk_fail(ei, err, "payment provider unreachable (%s)", path);
    else
        souk_fail(ei, err, "payment provider: %s%s%s (HTTP %ld)", type ? type : "error",
                  msg ? ": " : "", msg ? msg : "", status);
    json_decref(j);
    return err;
}

int stripe_call(const char *method, const char *path, const struct form *body,
                const char *idem_key, json_t **out, struct souk_errinfo *ei)
{
    char url[1024];
    struct curl_slist *hdrs;
    int64_t deadline = mono_ms() + timeout_s * 1000, wait = 0;
    long last_status = 0; /* of the previous attempt (0: no answer) */
    int err = SOUK_UPSTREAM;

    *out = NULL;
    snprintf(url, sizeof url, "%s%s", payments_api_base(), path);
    hdrs = make_headers(strcmp(method, "POST") == 0 ? idem_key : NULL);
    for (int attempt = 0;; attempt++) {
        struct resp r = {.should_retry = -1, .retry_after = -1};
        long status;
        int64_t left = deadline - mono_ms();
        CURLcode rc = exchange(method, url, body, hdrs, left > 1 ? left : 1, &r, &status);

        if (attempt > 0) {
            char labels[48], st[24];
            snprintf(st, sizeof st, "%ld", last_status);
            metrics_labels(labels, sizeof labels, "status", st, (char *)NULL);
            metrics_counter_add("souk_provider_retries_total", labels, 1);
        }
        if (rc == CURLE_OK && status >= 200 && status < 300) {
            *out = json_loads(r.body ? r.body : "", 0, NULL);
            err = *out ? SOUK_OK : souk_fail(ei, SOUK_UPSTREAM, "payment provider: bad JSON");
            free(r.body);
            break;
        }
        if (rc != CURLE_OK)
            status = 0;
        r.sent = rc != CURLE_OK && rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST;
        last_status = status;
        if (attempt < max_retries && retryable(status, r.should_retry))
            wait = retry_wait_ms(attempt + 1, status, &r);
        if (attempt >= max_retries || !retryable(status, r.should_retry) ||
            mono_ms() + wait >= deadline) {
            err = map_error(status, &r, path, ei);
            free(r.body);
            break;
        }
        free(r.body);
        stripe_loop_sleep_ms(wait);
    }
    curl_slist_free_all(hdrs);
    return err;
}
