/* testpurpose.c - the "test" payment purpose, registered only when
 * SOUK_TEST_PAYMENTS=1, so black-box tests can take payments before the
 * product domains exist.
 *
 * POST /api/payments/checkout/ {"purpose": "test", "id": <any uuid>,
 *   "amount": "12.50", "currency": "eur", "mode": "payment"|"subscription",
 *   "interval": "month", "attempt": 0, "ttl_seconds": 60}
 * Its callbacks change nothing beyond what payments itself records (status,
 * ledger, notifications): the effects the tests count.
 */
#include <string.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "payments/internal.h"

static int prepare(struct db_conn *tx, struct arena *a, const char *user_id,
                   const char *object_id, const json_t *body, struct checkout_spec *out,
                   struct souk_errinfo *ei)
{
    static const char *const modes[] = {"payment", "subscription", NULL};
    static const char *const intervals[] = {"day", "week", "month", "year", NULL};
    struct jv v;

    (void)tx;
    (void)user_id;
    if (!uuid_valid(object_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "no such object");
    jv_begin(&v, body, ei);
    out->unit_amount = jv_money(&v, "amount", JV_OPTIONAL, 1, MONEY_MAX, 1000);
    out->currency = arena_strdup(a, jv_str(&v, "currency", JV_OPTIONAL, 3, 3, "usd"));
    out->mode = jv_enum(&v, "mode", JV_OPTIONAL, modes, "payment");
    out->interval = jv_enum(&v, "interval", JV_OPTIONAL, intervals, "month");
    out->attempt = (int)jv_int(&v, "attempt", JV_OPTIONAL, 0, 1000, 0);
    out->ttl_seconds = (int)jv_int(&v, "ttl_seconds", JV_OPTIONAL, 0, 86400, 0);
    out->product_name = "Test payment";
    if (out->currency && !currency_valid(out->currency))
        jv_error(&v, "currency", "Expected a lower-case ISO 4217 code.");
    if (strcmp(out->mode ? out->mode : "", "subscription"))
        out->interval = NULL;
    return jv_done(&v);
}

static const struct payment_purpose test_purpose = {
    .name = "test",
    .prepare = prepare,
};

void payments_test_purpose_register(void)
{
    payments_register_purpose(&test_purpose);
}
