/* fuzz_stripe_event.c - the webhook event reader (webhook_event_read) and
 * the form decoder the sandbox uses (form_parse, form_get_map).
 *
 * Invariants: any bytes either fail to parse or give an event whose id and
 * type are non-empty strings and whose created time is consistent; every
 * string the reader returns lies inside the parsed JSON (no dangling
 * pointers: ASan checks the reads). The same bytes decoded as a form give
 * pairs that can all be looked up again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "core/arena.h"
#include "payments/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static void read_event(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    struct payment_event ev;
    const char *type = NULL;
    size_t n = 0;

    if (!j)
        return;
    if (webhook_event_read(j, &ev, &type) == 0) {
        if (!ev.event_id || !*ev.event_id || !type || !ev.object)
            abort();
        n += touch(ev.session_id) + touch(ev.payment_intent) + touch(ev.subscription) +
             touch(ev.invoice) + touch(ev.charge) + touch(ev.customer) + touch(ev.currency) +
             touch(ev.status) + touch(ev.billing_reason) + touch(ev.failure_message) +
             touch(ev.mode);
    }
    (void)n;
    json_decref(j);
}

static void read_form(const uint8_t *data, size_t size)
{
    struct arena *a = arena_new(0);
    struct form_kv *kv;
    int n = form_parse(a, (const char *)data, size, &kv);

    for (int i = 0; i < n; i++)
        if (!form_get(kv, n, kv[i].key))
            abort();
    json_decref(form_get_map(kv, n, "metadata"));
    arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_event(data, size);
    read_form(data, size);
    return 0;
}
