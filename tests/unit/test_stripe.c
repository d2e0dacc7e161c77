/* test_stripe.c - Stripe-Signature verification and the form encoder/decoder
 * (src/payments/signature.c, form.c), event reading (webhooks.c), and the
 * refund booking that our refund call and charge.refunded share
 * (payments_refund_book, on SQLite :memory: with the migrations). Vectors
 * computed independently with Python's hmac module (same recipe as
 * `openssl dgst -sha256 -hmac`). */
#include "unit.h"

#include <stdio.h>
#include "core/arena.h"
#include "db/db.h"
#include "payments/internal.h"

#define BODY "{\"id\":\"evt_1\",\"object\":\"event\"}"
#define SECRET "whsec_test_secret"
#define MAC_NEW "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"
#define MAC_OLD "9119b75c4afa8bb5f71433cb34179a57aa261c58b80b417f1f537251b0cd38a8"
#define T 1700000000

static enum stripe_sig_result verify(const char *hdr, const char *secrets, int64_t now)
{
    return stripe_sig_verify(hdr, BODY, strlen(BODY), secrets, now, STRIPE_SIG_TOLERANCE);
}

static void test_sig_valid(void **state)
{
    (void)state;
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, SECRET, T), STRIPE_SIG_OK);
    /* within tolerance, and in the future (accepted, like Node/Python/Go) */
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, SECRET, T + 300), STRIPE_SIG_OK);
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, SECRET, T - 1000), STRIPE_SIG_OK);
    /* v0 and unknown keys ignored, any v1 may match, order free */
    assert_int_equal(verify("v0=" MAC_NEW ",x=1,v1=" MAC_OLD ",t=1700000000,v1=" MAC_NEW,
                            SECRET, T),
                     STRIPE_SIG_OK);
}

static void test_sig_rotation(void **state)
{
    (void)state;
    /* Stripe signs with old and new secrets during a roll */
    assert_int_equal(verify("t=1700000000,v1=" MAC_OLD ",v1=" MAC_NEW, SECRET, T), STRIPE_SIG_OK);
    /* we may hold several secrets too */
    assert_int_equal(verify("t=1700000000,v1=" MAC_OLD, "whsec_x," SECRET ",whsec_old", T),
                     STRIPE_SIG_OK);
    assert_int_equal(verify("t=1700000000,v1=" MAC_OLD, SECRET, T), STRIPE_SIG_MISMATCH);
}

static void test_sig_refusals(void **state)
{
    (void)state;
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, SECRET, T + 301), STRIPE_SIG_TOO_OLD);
    assert_int_equal(verify("t=1700000001,v1=" MAC_NEW, SECRET, T), STRIPE_SIG_MISMATCH);
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, "whsec_wrong", T), STRIPE_SIG_MISMATCH);
    assert_int_equal(verify("t=1700000000,v0=" MAC_NEW, SECRET, T), STRIPE_SIG_NO_V1);
    assert_int_equal(verify("v1=" MAC_NEW, SECRET, T), STRIPE_SIG_BAD_HEADER);
    assert_int_equal(verify("t=abc,v1=" MAC_NEW, SECRET, T), STRIPE_SIG_BAD_HEADER);
    assert_int_equal(verify("t=-5,v1=" MAC_NEW, SECRET, T), STRIPE_SIG_BAD_HEADER);
    assert_int_equal(verify("", SECRET, T), STRIPE_SIG_NO_HEADER);
    assert_int_equal(verify(NULL, SECRET, T), STRIPE_SIG_NO_HEADER);
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, "", T), STRIPE_SIG_NO_SECRET);
    assert_int_equal(verify("t=1700000000,v1=" MAC_NEW, NULL, T), STRIPE_SIG_NO_SECRET);
    /* a space after the comma (Stripe never sends one) is not the key "v1" */
    assert_int_equal(verify("t=1700000000, v1=" MAC_NEW, SECRET, T), STRIPE_SIG_NO_V1);
    /* uppercase hex is refused, as Stripe's Node library refuses it */
    assert_int_equal(verify("t=1700000000,v1=0C8670ED117751CC551A20E35839447075C42800EA3CF3E8A2FBDA99CD1E6EDD",
                            SECRET, T),
                     STRIPE_SIG_NO_V1);
    assert_int_equal(verify("t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edD",
                            SECRET, T),
                     STRIPE_SIG_NO_V1);
    /* truncated, or not hex */
    assert_int_equal(verify("t=1700000000,v1=0c8670", SECRET, T), STRIPE_SIG_NO_V1);
    assert_int_equal(stripe_sig_verify("t=1700000000,v1=" MAC_NEW, "", 0, SECRET, T, 300),
                     STRIPE_SIG_NO_PAYLOAD);
    /* one changed byte in the body */
    assert_int_equal(stripe_sig_verify("t=1700000000,v1=" MAC_NEW, "{\"id\":\"evt_2\",\"object\":\"event\"}",
                                       strlen(BODY), SECRET, T, 300),
                     STRIPE_SIG_MISMATCH);
    /* tolerance 0 disables the age check */
    assert_int_equal(stripe_sig_verify("t=1,v1=" MAC_NEW, BODY, strlen(BODY), SECRET, T, 0),
                     STRIPE_SIG_MISMATCH);
}

static void test_sig_make_roundtrip(void **state)
{
    char hdr[STRIPE_SIG_HEADER_MAX];
    (void)state;
    stripe_sig_make(SECRET, T, BODY, strlen(BODY), hdr);
    assert_string_equal(hdr, "t=1700000000,v1=" MAC_NEW);
    assert_int_equal(verify(hdr, SECRET, T), STRIPE_SIG_OK);
}

static void test_form_encode(void **state)
{
    struct form f;
    json_t *md = json_pack("{s:s, s:i}", "order_id", "42", "skip", 1);
    (void)state;

    form_init(&f);
    form_add(&f, "mode", "payment");
    form_add(&f, "success_url", "https://shop.example/ok?s={CHECKOUT_SESSION_ID}");
    form_add(&f, "line_items[0][price_data][product_data][name]", "Pro plan & co");
    form_add_int(&f, "line_items[0][price_data][unit_amount]", 2500);
    form_add_bool(&f, "cancel_at_period_end", 1);
    form_add(&f, "absent", NULL);
    form_add_map(&f, "metadata", md);
    assert_string_equal(f.buf,
                        "mode=payment"
                        "&success_url=https%3A%2F%2Fshop.example%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D"
                        "&line_items[0][price_data][product_data][name]=Pro%20plan%20%26%20co"
                        "&line_items[0][price_data][unit_amount]=2500"
                        "&cancel_at_period_end=true&metadata[order_id]=42");
    form_cleanup(&f);
    json_decref(md);
}

static void test_form_decode(void **state)
{
    struct arena *a = arena_new(0);
    struct form_kv *kv;
    const char *body = "mode=payment&metadata%5Border_id%5D=42&metadata[x]=a+b%2Fc"
                       "&metadata[gone]=1&metadata[gone]=&bad=%zz%4&empty&a[b][c]=deep";
    int n = form_parse(a, body, strlen(body), &kv);
    json_t *md;
    (void)state;

    assert_int_equal(n, 8);
    assert_string_equal(form_get(kv, n, "mode"), "payment");
    assert_string_equal(form_get(kv, n, "metadata[order_id]"), "42");
    assert_string_equal(form_get(kv, n, "bad"), "%zz%4");
    assert_string_equal(form_get(kv, n, "empty"), "");
    assert_null(form_get(kv, n, "nope"));
    md = form_get_map(kv, n, "metadata");
    assert_int_equal(json_object_size(md), 2);
    assert_string_equal(json_string_value(json_object_get(md, "x")), "a b/c");
    json_decref(md);
    md = form_get_map(kv, n, "a"); /* nested keys are not a flat map */
    assert_int_equal(json_object_size(md), 0);
    json_decref(md);
    arena_free(a);
}

static void test_form_roundtrip(void **state)
{
    struct arena *a = arena_new(0);
    struct form f;
    struct form_kv *kv;
    const char *weird = "ä ö&=+%[]\x01 ~.-_";
    int n;
    (void)state;

    form_init(&f);
    form_add(&f, "k[0][x]", weird);
    n = form_parse(a, f.buf, f.len, &kv);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].key, "k[0][x]");
    assert_string_equal(kv[0].value, weird);
    form_cleanup(&f);
    arena_free(a);
}

/* ---- the event reader: both API shapes (STRIPE.md §2.4) ---------------------- */

static void read(const char *text, struct payment_event *ev, json_t **keep)
{
    const char *type;
    *keep = json_loads(text, 0, NULL);
    assert_non_null(*keep);
    assert_int_equal(webhook_event_read(*keep, ev, &type), 0);
}

static void test_event_invoice_shapes(void **state)
{
    struct payment_event ev;
    json_t *j;
    (void)state;

    read("{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"invoice.paid\",\"created\":10,"
         "\"data\":{\"object\":{\"id\":\"in_1\",\"object\":\"invoice\",\"amount_paid\":900,"
         "\"currency\":\"eur\",\"billing_reason\":\"subscription_cycle\",\"parent\":{\"type\":"
         "\"subscription_details\",\"subscription_details\":{\"subscription\":\"sub_new\"}},"
         "\"lines\":{\"data\":[{\"period\":{\"start\":100,\"end\":200}}]}}}}",
         &ev, &j);
    assert_string_equal(ev.subscription, "sub_new");
    assert_string_equal(ev.invoice, "in_1");
    assert_int_equal(ev.amount, 900);
    assert_int_equal(ev.created, 10000000);
    assert_int_equal(ev.period_start, 100000000);
    assert_int_equal(ev.period_end, 200000000);
    assert_string_equal(ev.billing_reason, "subscription_cycle");
    json_decref(j);
    /* 2020-08-27 shape: top-level subscription and payment_intent */
    read("{\"id\":\"evt_2\",\"type\":\"invoice.payment_failed\",\"created\":1,\"data\":{"
         "\"object\":{\"id\":\"in_2\",\"object\":\"invoice\",\"subscription\":\"sub_old\","
         "\"payment_intent\":\"pi_9\",\"amount_due\":500,\"amount_paid\":0,\"attempt_count\":2,"
         "\"next_payment_attempt\":50}}}",
         &ev, &j);
    assert_string_equal(ev.subscription, "sub_old");
    assert_string_equal(ev.payment_intent, "pi_9");
    assert_int_equal(ev.amount, 500);
    assert_int_equal(ev.attempt_count, 2);
    assert_int_equal(ev.next_attempt, 50000000);
    json_decref(j);
}

static void test_event_subscription_shapes(void **state)
{
    struct payment_event ev;
    json_t *j;
    (void)state;

    read("{\"id\":\"evt_3\",\"type\":\"customer.subscription.updated\",\"created\":1,\"data\":{"
         "\"object\":{\"id\":\"sub_1\",\"object\":\"subscription\",\"status\":\"past_due\","
         "\"cancel_at_period_end\":true,\"items\":{\"data\":[{\"current_period_start\":5,"
         "\"current_period_end\":6,\"price\":{\"currency\":\"eur\"}}]}}}}",
         &ev, &j);
    assert_string_equal(ev.subscription, "sub_1");
    assert_string_equal(ev.status, "past_due");
    assert_string_equal(ev.currency, "eur");
    assert_true(ev.cancel_at_period_end);
    assert_int_equal(ev.period_end, 6000000);
    json_decref(j);
    read("{\"id\":\"evt_4\",\"type\":\"customer.subscription.deleted\",\"created\":1,\"data\":{"
         "\"object\":{\"id\":\"sub_2\",\"object\":\"subscription\",\"status\":\"canceled\","
         "\"current_period_start\":7,\"current_period_end\":8,\"currency\":\"usd\"}}}",
         &ev, &j);
    assert_int_equal(ev.period_start, 7000000);
    assert_int_equal(ev.period_end, 8000000);
    assert_string_equal(ev.currency, "usd");
    json_decref(j);
}

static void test_event_refusals(void **state)
{
    static const char *const bad[] = {
        "[]", "{}", "{\"id\":\"evt\",\"type\":\"x\",\"created\":1}",
        "{\"id\":\"\",\"type\":\"x\",\"created\":1,\"data\":{\"object\":{\"object\":\"charge\"}}}",
        "{\"id\":\"e\",\"type\":\"x\",\"created\":\"1\",\"data\":{\"object\":{\"object\":\"charge\"}}}",
        "{\"id\":\"e\",\"type\":\"x\",\"created\":1,\"data\":{\"object\":{}}}",
    };
    struct payment_event ev;
    const char *type;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_int_equal(webhook_event_read(j, &ev, &type), SOUK_INVALID);
        json_decref(j);
    }
}

/* ---- refund booking ----------------------------------------------------------- */

#define PAY_ID "01900000-0000-7000-8000-000000000001"

static struct db *refund_db(void)
{
    struct souk_errinfo ei = {0};
    struct db *db = NULL;
    struct db_conn *c;
    int applied = 0;

    assert_int_equal(db_open("sqlite://:memory:", 1, &db, &ei), 0);
    assert_int_equal(db_migrate(db, &applied, NULL, &ei), 0);
    c = db_acquire(db, -1);
    assert_int_equal(db_exec(c,
                             "INSERT INTO payments (id, purpose, object_id, mode, amount, "
                             "currency, status, idempotency_key, spec, created_at, updated_at) "
                             "VALUES ($1, 'test', 'x', 'payment', 2500, 'eur', 'succeeded', "
                             "'k', '{}', 0, 0)",
                             DB_PARAMS(DBT(PAY_ID)), NULL, &ei),
                     0);
    db_release(c);
    return db;
}

struct book {
    int64_t cumulative;
    const char *key;
    int64_t booked;
};

static int book_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct book *b = arg;
    return payments_refund_book(tx, PAY_ID, b->cumulative, b->key, "eur", "succeeded",
                                &b->booked, ei);
}

static int64_t book(struct db *db, int64_t cumulative, const char *key)
{
    struct souk_errinfo ei = {0};
    struct book b = {cumulative, key, -1};

    assert_int_equal(db_tx_run(db, book_tx, &b, &ei), 0);
    return b.booked;
}

/* "amount_refunded status ledger-lines ledger-sum" */
static void refund_state(struct db *db, char *out, size_t n)
{
    struct souk_errinfo ei = {0};
    struct db_conn *c = db_acquire(db, -1);
    struct db_res *r = NULL;

    assert_int_equal(db_query(c,
                              "SELECT p.amount_refunded, p.status, COUNT(l.id), "
                              "COALESCE(SUM(l.amount), 0) FROM payments p LEFT JOIN "
                              "payment_ledger l ON l.payment_id = p.id AND l.kind = 'refund' "
                              "WHERE p.id = $1 GROUP BY p.amount_refunded, p.status",
                              DB_PARAMS(DBT(PAY_ID)), &r, &ei),
                     0);
    snprintf(out, n, "%lld %s %lld %lld", (long long)db_int(r, 0, 0), db_get(r, 0, 1),
             (long long)db_int(r, 0, 2), (long long)db_int(r, 0, 3));
    db_res_free(r);
    db_release(c);
}

#define assert_refund_state(db, want)                \
    do {                                             \
        char got_[128];                              \
        refund_state((db), got_, sizeof got_);       \
        assert_string_equal(got_, (want));           \
    } while (0)

/* Our refund call first, then its charge.refunded, then a replay of the call. */
static void test_refund_book_call_then_event(void **state)
{
    struct db *db = refund_db();

    (void)state;
    assert_int_equal(book(db, 2500, "re_1"), 2500);
    assert_int_equal(book(db, 2500, "ch_1:2500"), 0); /* the event: already counted */
    assert_int_equal(book(db, 2500, "re_1"), 0);      /* a concurrent caller, same refund */
    assert_refund_state(db, "2500 refunded 1 2500");
    db_close(db);
}

/* The event lands before the call books: the call books nothing. */
static void test_refund_book_event_then_call(void **state)
{
    struct db *db = refund_db();

    (void)state;
    assert_int_equal(book(db, 2500, "ch_1:2500"), 2500);
    assert_int_equal(book(db, 2500, "re_1"), 0);
    assert_refund_state(db, "2500 refunded 1 2500");
    db_close(db);
}

/* Partial refunds, out of order: only increases are booked, never a decrease. */
static void test_refund_book_partials(void **state)
{
    struct db *db = refund_db();

    (void)state;
    assert_int_equal(book(db, 1000, "re_1"), 1000);
    assert_refund_state(db, "1000 succeeded 1 1000");
    assert_int_equal(book(db, 2500, "ch_1:2500"), 1500);
    assert_int_equal(book(db, 1000, "ch_1:1000"), 0); /* older event, late */
    assert_int_equal(book(db, 2500, "re_2"), 0);
    assert_refund_state(db, "2500 refunded 2 2500");
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_valid),          cmocka_unit_test(test_sig_rotation),
        cmocka_unit_test(test_sig_refusals),       cmocka_unit_test(test_sig_make_roundtrip),
        cmocka_unit_test(test_form_encode),        cmocka_unit_test(test_form_decode),
        cmocka_unit_test(test_form_roundtrip),     cmocka_unit_test(test_event_invoice_shapes),
        cmocka_unit_test(test_event_subscription_shapes), cmocka_unit_test(test_event_refusals),
        cmocka_unit_test(test_refund_book_call_then_event),
        cmocka_unit_test(test_refund_book_event_then_call),
        cmocka_unit_test(test_refund_book_partials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
