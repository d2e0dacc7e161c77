/* history.c - reading the ledger back: a user's payments, one payment with
 * its ledger lines, and the webhook events kept for review.
 *
 * Thread safety: stateless; each call takes its own connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/money.h"
#include "db/db.h"
#include "payments/history.h"
#include "payments/internal.h"
#include "db/keyset.h"
#include "userdata/userdata.h"

struct list_args {
    const char *user_id;
    const struct keyset *ks;
    struct payments_page *out;
};

static int list_user(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct list_args *a = arg;
    char wbuf[160], obuf[160], sql[1024];
    struct db_res *r = NULL;
    int err;

    snprintf(sql, sizeof sql, "SELECT " PAYMENT_COLS " FROM payments WHERE user_id = $1%s%s",
             keyset_where(a->ks, "created_at", "id", 2, wbuf, sizeof wbuf),
             keyset_order(a->ks, "created_at", "id", obuf, sizeof obuf));
    if (a->ks->has_cursor)
        err = db_query(c, sql, DB_PARAMS(DBT(a->user_id), DBI(a->ks->k), DBT(a->ks->id)), &r, ei);
    else
        err = db_query(c, sql, DB_PARAMS(DBT(a->user_id)), &r, ei);
    if (err)
        return err;
    a->out->n = db_nrows(r) < PAYMENTS_PAGE_MAX ? db_nrows(r) : PAYMENTS_PAGE_MAX;
    a->out->rows = json_array();
    for (int i = 0; i < a->out->n; i++) {
        struct payment_row p;
        payment_row_read(r, i, &p);
        json_array_append_new(a->out->rows, payment_row_json(&p));
        a->out->keys[i] = p.created_at;
        snprintf(a->out->ids[i], sizeof a->out->ids[i], "%s", p.id);
        payment_row_cleanup(&p);
    }
    db_res_free(r);
    return 0;
}

int payments_history(struct db *db, const char *user_id, const struct keyset *ks,
                     struct payments_page *out, struct souk_errinfo *ei)
{
    struct list_args a = {user_id, ks, out};
    memset(out, 0, sizeof *out);
    return db_run(db, list_user, &a, ei);
}

struct one_args {
    const char *id;
    json_t *out;
    char user_id[37];
};

static json_t *ledger_json(const struct db_res *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:o, s:s, s:s, s:o}", "kind", db_get(r, i, 0),
                           "provider_id", db_get(r, i, 1), "amount",
                           money_to_json(db_int(r, i, 2)), "currency", db_get(r, i, 3),
                           "status", db_get(r, i, 4), "created_at", json_time(db_int(r, i, 5))));
    return arr;
}

static int load_one(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct one_args *a = arg;
    struct payment_row p;
    struct db_res *r = NULL;
    int err = payment_row_find(c, "id", a->id, &p, ei);

    if (err)
        return err;
    snprintf(a->user_id, sizeof a->user_id, "%s", p.user_id);
    a->out = payment_row_json(&p);
    json_object_set_new(a->out, "session_id", json_str_or_null(p.session_id[0] ? p.session_id : NULL));
    json_object_set_new(a->out, "checkout_url",
                        json_str_or_null(p.checkout_url[0] ? p.checkout_url : NULL));
    payment_row_cleanup(&p);
    err = db_query(c,
                   "SELECT kind, provider_id, amount, currency, status, created_at FROM "
                   "payment_ledger WHERE payment_id = $1 ORDER BY created_at, id",
                   DB_PARAMS(DBT(a->id)), &r, ei);
    if (!err)
        json_object_set_new(a->out, "ledger", ledger_json(r));
    db_res_free(r);
    return err;
}

int payments_get(struct db *db, const char *id, char owner[37], json_t **out,
                 struct souk_errinfo *ei)
{
    struct one_args a = {id, NULL, ""};
    int err = db_run(db, load_one, &a, ei);

    if (err) {
        json_decref(a.out);
        return err;
    }
    memcpy(owner, a.user_id, 37);
    *out = a.out;
    return 0;
}

struct events_args {
    const char *status;
    int64_t before;
    const char *before_id;
    int limit;
    json_t *rows;
};

static int list_events(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct events_args *a = arg;
    struct db_res *r = NULL;
    int err = db_query(
        c,
        "SELECT event_id, type, status, reason, payment_id, provider_object, event_created_at, "
        "received_at, attempts FROM payment_events WHERE "
        "($1 = 'all' OR status = $1 OR ($1 = 'open' AND status IN ('review', 'failed'))) "
        "AND (CAST($2 AS BIGINT) = 0 OR received_at < $2 OR (received_at = $2 AND event_id < $3)) "
        "ORDER BY received_at DESC, event_id DESC LIMIT $4",
        DB_PARAMS(DBT(a->status), DBI(a->before), DBT(a->before_id ? a->before_id : ""),
                  DBI(a->limit)),
        &r, ei);

    if (err)
        return err;
    a->rows = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(
            a->rows,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "id", db_get(r, i, 0),
                      "type", db_get(r, i, 1), "status", db_get(r, i, 2), "reason",
                      json_str_or_null(db_get(r, i, 3)), "payment_id",
                      json_str_or_null(db_get(r, i, 4)), "provider_object",
                      json_str_or_null(db_get(r, i, 5)), "event_created_at",
                      json_time(db_int(r, i, 6)), "received_at", json_time(db_int(r, i, 7)),
                      "attempts", (json_int_t)db_int(r, i, 8), "_k",
                      (json_int_t)db_int(r, i, 7)));
    db_res_free(r);
    return 0;
}

/* Rows carry "_k" (received_at in microseconds) for the caller's cursor. */
int payments_events_list(struct db *db, const char *status, int64_t before,
                         const char *before_id, int limit, json_t **rows,
                         struct souk_errinfo *ei)
{
    struct events_args a = {status, before, before_id, limit, NULL};
    int err = db_run(db, list_events, &a, ei);

    if (err) {
        json_decref(a.rows);
        return err;
    }
    *rows = a.rows;
    return 0;
}

/* ---- the export (userdata.h): payments stay after an erasure ------------------ */

#define PAYMENTS_EXPORT_MAX 10000

static int export_payments(struct db_conn *c, const struct userdata_who *w, json_t **out,
                           struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT " PAYMENT_COLS " FROM payments WHERE user_id = $1 "
                       "ORDER BY created_at DESC, id DESC LIMIT $2",
                       DB_PARAMS(DBT(w->user_id), DBI(PAYMENTS_EXPORT_MAX)), &r, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++) {
        struct payment_row p;
        payment_row_read(r, i, &p);
        json_array_append_new(*out, payment_row_json(&p));
        payment_row_cleanup(&p);
    }
    db_res_free(r);
    return SOUK_OK;
}

/* Payments stay for the accounting period, but not the email address that
 * went to the provider with the checkout (in the spec and in the events). */
static int erase_payments(struct db_conn *c, const struct userdata_who *w,
                          struct souk_errinfo *ei)
{
    int pg = db_conn_dialect(c) == DB_PGSQL;
    int err;

    if (!w->email[0])
        return SOUK_OK;
    err = db_exec(c, "UPDATE payments SET spec = replace(spec, $2, '') WHERE user_id = $1",
                  DB_PARAMS(DBT(w->user_id), DBT(w->email)), NULL, ei);
    if (err)
        return err;
    return db_exec(c,
                   pg ? "UPDATE payment_events SET payload = replace(payload, $1, '') "
                        "WHERE strpos(payload, $1) > 0"
                      : "UPDATE payment_events SET payload = replace(payload, $1, '') "
                        "WHERE instr(payload, $1) > 0",
                   DB_PARAMS(DBT(w->email)), NULL, ei);
}

static const struct userdata_part payments_part = {
    .key = "payments", .export_fn = export_payments, .erase = erase_payments, .order = 500};

void payments_userdata_register(void)
{
    userdata_register(&payments_part);
}
