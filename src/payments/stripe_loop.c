/* stripe_loop.c - the provider's event loop: one thread drives every Stripe
 * call made from a fiber through curl's multi interface (shared connection
 * cache), and the timers of their retry waits; the fiber stays parked
 * (core/fiber.h) until its transfer or timer ends, so no HTTP worker thread
 * waits on the network (provider jobs run in fibers of the job workers too).
 * Calls made on a plain thread (the CLI, other jobs) keep curl_easy_perform
 * and nanosleep: they block only their own thread.
 *
 * Metrics: souk_provider_calls_in_flight (transfers on the loop),
 * souk_provider_call_duration_seconds (each exchange, any thread).
 *
 * Thread safety: submissions go through `mu` and curl_multi_wakeup (both
 * thread-safe); the multi handle, the running transfers and the timers
 * belong to the loop thread. A submitted item lives on the parked fiber's
 * stack; the loop never touches it after waking the fiber.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <curl/curl.h>

#include "core/fiber.h"
#include "core/log.h"
#include "core/metrics.h"
#include "payments/internal.h"

struct loop_item {
    CURL *c;         /* a transfer, or NULL for a timer */
    int64_t due_ms;  /* timer: monotonic ms */
    CURLcode rc;
    atomic_int done;
    struct fiber *f;
    struct loop_item *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct loop_item *submitted; /* guarded by mu */
static int started, quit;           /* guarded by mu */
static pthread_t thread;
static CURLM *multi;
static struct loop_item *timers; /* loop thread only */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(struct loop_item *it)
{
    struct fiber *f = it->f;
    atomic_store(&it->done, 1);
    fiber_wake(f); /* `it` may be gone from here on */
}

/* Takes what was submitted: transfers join the multi, timers the list. */
static int take_submitted(int *running)
{
    struct loop_item *it, *next;
    int stop;

    pthread_mutex_lock(&mu);
    it = submitted;
    submitted = NULL;
    stop = quit;
    pthread_mutex_unlock(&mu);
    for (; it; it = next) {
        next = it->next;
        if (!it->c) {
            it->next = timers;
            timers = it;
        } else if (curl_multi_add_handle(multi, it->c) != CURLM_OK) {
            it->rc = CURLE_FAILED_INIT;
            wake(it);
        } else {
            curl_easy_setopt(it->c, CURLOPT_PRIVATE, it);
            (*running)++;
            metrics_gauge_add("souk_provider_calls_in_flight", NULL, 1);
        }
    }
    return stop;
}

/* Wakes the fibers whose timers are due; ms until the next one (or cap). */
static int fire_timers(int cap)
{
    int64_t now = now_ms(), next = now + cap;
    struct loop_item **pp = &timers;

    while (*pp) {
        struct loop_item *it = *pp;
        if (it->due_ms <= now) {
            *pp = it->next;
            wake(it);
            continue;
        }
        if (it->due_ms < next)
            next = it->due_ms;
        pp = &it->next;
    }
    return (int)(next - now);
}

static void reap(int *running)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(multi, &left))) {
        struct loop_item *it = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&it);
        it->rc = msg->data.result;
        curl_multi_remove_handle(multi, msg->easy_handle);
        (*running)--;
        metrics_gauge_add("souk_provider_calls_in_flight", NULL, -1);
        wake(it);
    }
}

static void *loop_main(void *arg)
{
    int running = 0, still;

    (void)arg;
    while (!take_submitted(&running) || running || timers) {
        curl_multi_perform(multi, &still);
        reap(&running);
        curl_multi_poll(multi, NULL, 0, fire_timers(1000), NULL);
    }
    return NULL;
}

static int ensure_started(void)
{
    int ok;

    pthread_mutex_lock(&mu);
    if (!started && !quit) {
        metrics_describe("souk_provider_calls_in_flight",
                         "Payment provider calls in flight on the provider loop.");
        multi = curl_multi_init();
        started = multi && pthread_create(&thread, NULL, loop_main, NULL) == 0;
        if (!started && multi) {
            curl_multi_cleanup(multi);
            multi = NULL;
        }
        if (!started)
            log_warn("payments: the provider loop did not start; calls block their thread");
    }
    ok = started && !quit;
    pthread_mutex_unlock(&mu);
    return ok;
}

static void submit_and_park(struct loop_item *it)
{
    it->f = fiber_self();
    pthread_mutex_lock(&mu);
    it->next = submitted;
    submitted = it;
    pthread_mutex_unlock(&mu);
    curl_multi_wakeup(multi);
    /* Exactly one park per wake, even when the loop was quicker than us: the
     * wake has then queued this fiber to be resumed, which this park allows. */
    fiber_park();
    if (!atomic_load(&it->done))
        log_error("payments: a provider call resumed before it ended");
}

CURLcode stripe_loop_perform(CURL *c)
{
    struct loop_item it = {.c = c};

    if (!fiber_self() || !ensure_started())
        return curl_easy_perform(c);
    submit_and_park(&it);
    return it.rc;
}

void stripe_loop_sleep_ms(int64_t ms)
{
    struct loop_item it = {.due_ms = now_ms() + ms};
    struct timespec ts;

    if (ms <= 0)
        return;
    if (fiber_self() && ensure_started()) {
        submit_and_park(&it);
        return;
    }
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

void stripe_loop_stop(void)
{
    int was;

    pthread_mutex_lock(&mu);
    was = started;
    quit = 1;
    pthread_mutex_unlock(&mu);
    if (!was)
        return;
    curl_multi_wakeup(multi);
    pthread_join(thread, NULL);
    curl_multi_cleanup(multi);
    multi = NULL;
}
