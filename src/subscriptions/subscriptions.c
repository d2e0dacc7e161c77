/* subscriptions.c - the subscription state machine (see subscriptions.h):
 * reading, the one place that writes a change (commit_change), and the
 * user actions: subscribe, cancel, resume, change tier.
 *
 * commit_change() writes the row, logs the transition with its cause in
 * subscription_events, notifies the subscriber, schedules the jobs that
 * enforce time (period end, grace end), queues the e-mails (payment failed,
 * expired) and invalidates the status cache after commit. Everything that
 * changes a subscription - user actions here, webhooks (purpose.c), jobs
 * (jobs.c) - goes through it, inside the caller's transaction, with the row
 * loaded FOR UPDATE on PostgreSQL (SQLite transactions are IMMEDIATE).
 *
 * Reads join plans (the tiers of src/vendors) for the embedded plan; the
 * subscribe path reads a plan and the chef's owner the same way, inside the
 * transaction that relies on them.
 *
 * Thread safety: no state outside the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "subscriptions/internal.h"
#include "subscriptions/subscriptions.h"
#include "db/keyset.h"
#include "users/users.h"
#include "core/str.h"

#define SCOLS                                                                                      \
    "s.id, s.user_id, s.chef_id, s.plan_id, s.pending_plan_id, s.status, "                         \
    "s.cancel_at_period_end, s.current_period_start, s.current_period_end, s.grace_until, "        \
    "s.cancel_set_at, s.ended_at, s.created_at, s.updated_at, s.checkout_url, "                    \
    "s.provider_subscription_id, s.payment_id, p.name, p.rank, p.price, p.currency, "              \
    "p.billing_interval"
#define SFROM " FROM subscriptions s JOIN plans p ON p.id = s.plan_id"

/* ---- reading ------------------------------------------------------------------- */

void subs_row_read(const struct db_res *r, int i, struct arena *a, struct subscription *s)
{
    memset(s, 0, sizeof *s);
    str_copy(s->id, sizeof s->id, db_get(r, i, 0));
    str_copy(s->user_id, sizeof s->user_id, db_get(r, i, 1));
    str_copy(s->chef_id, sizeof s->chef_id, db_get(r, i, 2));
    str_copy(s->plan_id, sizeof s->plan_id, db_get(r, i, 3));
    str_copy(s->pending_plan_id, sizeof s->pending_plan_id, db_get(r, i, 4));
    str_copy(s->status, sizeof s->status, db_get(r, i, 5));
    s->cancel_at_period_end = db_bool(r, i, 6);
    s->current_period_start = db_int(r, i, 7);
    s->current_period_end = db_int(r, i, 8);
    s->grace_until = db_int(r, i, 9);
    s->cancel_set_at = db_int(r, i, 10);
    s->ended_at = db_int(r, i, 11);
    s->created_at = db_int(r, i, 12);
    s->updated_at = db_int(r, i, 13);
    s->checkout_url = arena_strdup(a, db_get(r, i, 14));
    s->provider_id = arena_strdup(a, db_get(r, i, 15));
    s->payment_id = arena_strdup(a, db_get(r, i, 16));
    s->plan_name = arena_strdup(a, db_get(r, i, 17));
    s->plan_rank = (int)db_int(r, i, 18);
    s->plan_price = db_int(r, i, 19);
    str_copy(s->plan_currency, sizeof s->plan_currency, db_get(r, i, 20));
    str_copy(s->plan_interval, sizeof s->plan_interval, db_get(r, i, 21));
}

/* lock: FOR UPDATE on PostgreSQL (the caller is in a transaction). */
int subs_load(struct db_conn *c, const char *id, int lock, struct arena *a,
              struct subscription *out, struct souk_errinfo *ei)
{
    const char *sql = lock && db_conn_dialect(c) == DB_PGSQL
                          ? "SELECT " SCOLS SFROM " WHERE s.id = $1 FOR UPDATE OF s"
                          : "SELECT " SCOLS SFROM " WHERE s.id = $1";
    struct db_res *res = NULL;
    int err;

    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such subscription.");
    err = db_query(c, sql, DB_PARAMS(DBT(id)), &res, ei);
    if (!err && db_nrows(res) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such subscription.");
    if (!err)
        subs_row_read(res, 0, a, out);
    db_res_free(res);
    return err;
}

int subscriptions_get(struct db_conn *c, const char *id, struct arena *a, struct subscription *out,
                      struct souk_errinfo *ei)
{
    return subs_load(c, id, 0, a, out, ei);
}

static json_t *time_or_null(int64_t us)
{
    return us ? json_time(us) : json_null();
}

json_t *subscriptions_to_json(const struct subscription *s)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s, s:i, s:o, s:s, s:s}, s:s, s:b, s:o, s:o, s:o, s:o, s:o}",
        "id", s->id, "user_id", s->user_id, "chef_id", s->chef_id, "plan", "id", s->plan_id, "name",
        s->plan_name ? s->plan_name : "", "rank", s->plan_rank, "price",
        money_to_json(s->plan_price), "currency", s->plan_currency, "interval", s->plan_interval,
        "status", s->status, "cancel_at_period_end", s->cancel_at_period_end,
        "current_period_start", time_or_null(s->current_period_start), "current_period_end",
        time_or_null(s->current_period_end), "grace_until", time_or_null(s->grace_until),
        "created_at", json_time(s->created_at), "updated_at", json_time(s->updated_at));

    json_object_set_new(j, "checkout_url",
                        s->checkout_url && !strcmp(s->status, "incomplete")
                            ? json_string(s->checkout_url)
                            : json_null());
    json_object_set_new(j, "pending_plan_id",
                        s->pending_plan_id[0] ? json_string(s->pending_plan_id) : json_null());
    json_object_set_new(j, "ended_at", time_or_null(s->ended_at));
    return j;
}

/* ---- what grants access ------------------------------------------------------------ */

/* SQL condition on alias s, parameters $now and $grace given by position. */
#define GRANTS_SQL(NOW, GRACE)                                                                     \
    "((s.status = 'active' AND (CASE WHEN s.cancel_at_period_end THEN s.current_period_end "       \
    "ELSE s.current_period_end + " GRACE " END) > " NOW ") OR (s.status = 'past_due' AND "         \
    "s.grace_until > " NOW "))"

int subscriptions_count_for_chef(struct db_conn *c, const char *chef_id, int64_t *n,
                                 struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err =
        db_query(c,
                 "SELECT COUNT(*) FROM subscriptions s WHERE s.chef_id = $1 AND "
                 "s.status IN ('active', 'past_due') AND " GRANTS_SQL("$2", "$3"),
                 DB_PARAMS(DBT(chef_id), DBI(clock_now_us()), DBI(subs_grace_us())), &res, ei);

    *n = err ? 0 : db_int(res, 0, 0);
    db_res_free(res);
    return err;
}

int subscriptions_count_for_chefs(struct db_conn *c, const char *const *chef_ids, int n,
                                  int64_t *counts, struct souk_errinfo *ei)
{
    struct db_param p[SUBSCRIPTIONS_COUNT_BATCH_MAX + 2];
    char sql[512 + SUBSCRIPTIONS_COUNT_BATCH_MAX * 8];
    struct db_res *res = NULL;
    size_t len;
    int err;

    memset(counts, 0, (size_t)(n > 0 ? n : 0) * sizeof *counts);
    if (n <= 0)
        return 0;
    if (n > SUBSCRIPTIONS_COUNT_BATCH_MAX)
        return souk_fail(ei, SOUK_INTERNAL, "subscriptions_count_for_chefs: %d ids", n);
    p[0] = DBI(clock_now_us());
    p[1] = DBI(subs_grace_us());
    len = (size_t)snprintf(sql, sizeof sql,
                           "SELECT s.chef_id, COUNT(*) FROM subscriptions s WHERE "
                           "s.status IN ('active', 'past_due') AND %s AND s.chef_id IN (",
                           GRANTS_SQL("$1", "$2"));
    for (int i = 0; i < n; i++) {
        p[i + 2] = DBT(chef_ids[i]);
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s$%d", i ? ", " : "", i + 3);
    }
    snprintf(sql + len, sizeof sql - len, ") GROUP BY s.chef_id");
    if ((err = db_query(c, sql, p, n + 2, &res, ei)))
        return err;
    for (int r = 0; r < db_nrows(res); r++)
        for (int i = 0; i < n; i++)
            if (strcmp(db_get(res, r, 0), chef_ids[i]) == 0)
                counts[i] = db_int(res, r, 1);
    db_res_free(res);
    return 0;
}

/* ---- a user's list ------------------------------------------------------------------ */

int subs_list_rows(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct subs_list *la = arg;
    char where[160], order[160], filter[400], sql[2048];
    struct db_param p[5] = {DBT(la->user_id)};
    struct db_res *res = NULL;
    int np = 1, err;

    if (la->ks->has_cursor) {
        p[np++] = DBI(la->ks->k);
        p[np++] = DBT(la->ks->id);
    }
    filter[0] = 0;
    if (!la->status) {
        snprintf(filter, sizeof filter,
                 " AND ((s.status = 'active' AND (CASE WHEN s.cancel_at_period_end THEN "
                 "s.current_period_end ELSE s.current_period_end + $%d END) > $%d) OR "
                 "(s.status = 'past_due' AND s.grace_until > $%d))",
                 np + 2, np + 1, np + 1);
        p[np++] = DBI(clock_now_us());
        p[np++] = DBI(subs_grace_us());
    } else if (strcmp(la->status, "all")) {
        snprintf(filter, sizeof filter, " AND s.status = $%d", np + 1);
        p[np++] = DBT(la->status);
    }
    snprintf(sql, sizeof sql,
             "SELECT s.id, s.user_id, s.chef_id, s.plan_id, s.pending_plan_id, s.status, "
             "s.cancel_at_period_end, s.current_period_start, s.current_period_end, "
             "s.grace_until, s.cancel_set_at, s.ended_at, s.created_at, s.updated_at, "
             "s.checkout_url, s.provider_subscription_id, s.payment_id, p.name, p.rank, "
             "p.price, p.currency, p.billing_interval FROM subscriptions s JOIN plans p ON "
             "p.id = s.plan_id WHERE s.user_id = $1%s%s%s",
             keyset_where(la->ks, "s.created_at", "s.id", 2, where, sizeof where), filter,
             keyset_order(la->ks, "s.created_at", "s.id", order, sizeof order));
    if ((err = db_query(c, sql, p, np, &res, ei)))
        return err;
    la->n = db_nrows(res);
    la->rows = arena_calloc(la->a, (size_t)la->n + 1, sizeof *la->rows);
    for (int i = 0; i < la->n; i++)
        subs_row_read(res, i, la->a, &la->rows[i]);
    db_res_free(res);
    return 0;
}

int subscriptions_is_subscribed(struct db_conn *c, const char *user_id, const char *chef_id,
                                int *yes, struct souk_errinfo *ei)
{
    int rank = 0;
    int err = subscriptions_grant_rank(c, user_id, chef_id, &rank, ei);

    *yes = !err && rank > 0;
    return err;
}

int subscriptions_list_subscribers(struct db_conn *c, const char *chef_id, int limit, json_t **out,
                                   struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    char sql[1024];
    int err;

    snprintf(sql, sizeof sql,
             "SELECT s.id, s.user_id, u.email, u.first_name, u.last_name, p.name, p.rank, "
             "s.status, s.current_period_end, s.created_at FROM subscriptions s JOIN plans p ON "
             "p.id = s.plan_id JOIN users u ON u.id = s.user_id WHERE s.chef_id = $1 AND "
             "s.status IN ('active', 'past_due') AND %s ORDER BY s.created_at DESC, s.id DESC "
             "LIMIT %d",
             GRANTS_SQL("$2", "$3"), limit > 0 && limit <= 1000 ? limit : 100);
    *out = NULL;
    if ((err = db_query(c, sql, DB_PARAMS(DBT(chef_id), DBI(clock_now_us()), DBI(subs_grace_us())),
                        &res, ei)))
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(res); i++)
        json_array_append_new(
            *out,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:I}, s:s, s:o, s:o}", "id",
                      db_get(res, i, 0), "user_id", db_get(res, i, 1), "email", db_get(res, i, 2),
                      "first_name", db_get(res, i, 3), "last_name", db_get(res, i, 4), "plan",
                      "name", db_get(res, i, 5), "rank", (json_int_t)db_int(res, i, 6), "status",
                      db_get(res, i, 7), "current_period_end", time_or_null(db_int(res, i, 8)),
                      "since", json_time(db_int(res, i, 9))));
    db_res_free(res);
    return 0;
}

/* ---- the one writer --------------------------------------------------------------------- */

static void invalidate_hook(void *arg)
{
    subscriptions_cache_invalidate(arg);
}

static int log_event(struct db_conn *tx, const char *from, const struct subscription *s,
                     const struct subs_cause *why, struct souk_errinfo *ei)
{
    char id[37];

    uuid_v7(id);
    return db_exec(tx,
                   "INSERT INTO subscription_events (id, subscription_id, from_status, "
                   "to_status, cause, actor_user_id, event_id, detail, created_at) VALUES ($1, "
                   "$2, $3, $4, $5, $6, $7, $8, $9)",
                   DB_PARAMS(DBT(id), DBT(s->id), DBT(from), DBT(s->status), DBT(why->cause),
                             DBT(why->actor), DBT(why->event_id),
                             DBT(why->detail ? why->detail : ""), DBI(clock_now_us())),
                   NULL, ei);
}

/* The job that ends or reconciles a period runs a little after its end, so
 * that a renewal arriving on time is seen first (at most 30 s). */
static int64_t settle_us(const struct subscription *s)
{
    int64_t len = s->current_period_end - s->current_period_start;
    int64_t settle = len > 0 ? len / 5 : 0;

    return settle < INT64_C(30) * 1000000 ? settle : INT64_C(30) * 1000000;
}

static int schedule(struct db_conn *tx, const struct subscription *s, struct souk_errinfo *ei)
{
    const char *kind = NULL;
    int64_t at = 0;
    char key[160];
    json_t *p;
    int err;

    if (!strcmp(s->status, "active") && s->current_period_end) {
        kind = SUBS_JOB_PERIOD_END;
        at = s->current_period_end + (s->cancel_at_period_end ? 0 : settle_us(s));
    } else if (!strcmp(s->status, "past_due") && s->grace_until) {
        kind = SUBS_JOB_GRACE_END;
        at = s->grace_until;
    }
    if (!kind)
        return 0;
    snprintf(key, sizeof key, "%s:%s:%lld", kind, s->id, (long long)at);
    p = json_pack("{s:s, s:I}", "id", s->id, "at", (json_int_t)at);
    err = job_enqueue(tx, kind, p, at, key, NULL, ei);
    json_decref(p);
    return err;
}

static int mail_user(struct db_conn *tx, const struct subscription *s, const char *tmpl,
                     const char *subject, const char *body, struct souk_errinfo *ei)
{
    struct user *u = xcalloc(1, sizeof *u);
    char key[128], what[256];
    json_t *vars;
    int err = users_get(tx, s->user_id, u, ei);

    if (err) {
        free(u);
        return err == SOUK_NOT_FOUND ? 0 : err;
    }
    snprintf(what, sizeof what, "your subscription (%s)", s->plan_name ? s->plan_name : "plan");
    vars = json_pack("{s:s, s:s, s:s, s:s, s:s}", "what", what, "first_name", u->first_name,
                     "subject", subject, "body", body, "subscription_id", s->id);
    snprintf(key, sizeof key, "subs:%s:%s:%lld", s->id, subject, (long long)s->current_period_end);
    err = mail_enqueue(tx, u->email, tmpl, vars, key, ei);
    json_decref(vars);
    free(u);
    return err;
}

static int side_effects(struct db_conn *tx, const char *from, const struct subscription *s,
                        struct souk_errinfo *ei)
{
    int err = schedule(tx, s, ei);

    if (!err && !strcmp(s->status, "past_due") && strcmp(from, "past_due"))
        err = mail_user(tx, s, "payment_failed", "Payment failed for your subscription",
                        "We could not charge your card for the renewal of your subscription. "
                        "Your access continues until the end of the grace period.",
                        ei);
    if (!err && !strcmp(s->status, "expired") &&
        (!strcmp(from, "active") || !strcmp(from, "past_due")))
        err = mail_user(tx, s, "subscription_expired", "Your subscription has expired",
                        "Your subscription ended because its renewal could not be paid.", ei);
    return err;
}

int subs_commit_change(struct db_conn *tx, const char *from_status, struct subscription *s,
                       const struct subs_cause *why, struct arena *a, struct souk_errinfo *ei)
{
    char from[12];
    json_t *payload;
    int err;

    str_copy(from, sizeof from, from_status);
    s->updated_at = clock_now_us();
    err = db_exec(
        tx,
        "UPDATE subscriptions SET plan_id = $2, pending_plan_id = $3, status = $4, "
        "cancel_at_period_end = $5, current_period_start = $6, current_period_end = $7, "
        "grace_until = $8, cancel_set_at = $9, provider_subscription_id = $10, ended_at = $11, "
        "updated_at = $12 WHERE id = $1",
        DB_PARAMS(DBT(s->id), DBT(s->plan_id),
                  DBT(s->pending_plan_id[0] ? s->pending_plan_id : NULL), DBT(s->status),
                  DBB(s->cancel_at_period_end),
                  s->current_period_start ? DBI(s->current_period_start) : DBNULL,
                  s->current_period_end ? DBI(s->current_period_end) : DBNULL,
                  s->grace_until ? DBI(s->grace_until) : DBNULL, DBI(s->cancel_set_at),
                  DBT(s->provider_id && *s->provider_id ? s->provider_id : NULL),
                  s->ended_at ? DBI(s->ended_at) : DBNULL, DBI(s->updated_at)),
        NULL, ei);
    if (!err)
        err = subs_load(tx, s->id, 0, a, s, ei); /* the plan may have changed */
    if (!err)
        err = log_event(tx, from, s, why, ei);
    if (err)
        return err;
    payload = json_pack("{s:o, s:s, s:s}", "subscription", subscriptions_to_json(s),
                        "previous_status", from, "cause", why->cause);
    err = notify(tx, s->user_id, "subscription.updated", payload, ei);
    json_decref(payload);
    if (!err)
        err = side_effects(tx, from, s, ei);
    if (!err)
        db_after_commit(tx, invalidate_hook, xstrdup(s->user_id), free);
    return err;
}

/* ---- periods ------------------------------------------------------------------------------ */

int64_t subs_interval_us(const char *interval)
{
    int64_t day = INT64_C(86400) * 1000000;

    if (souk_cfg && strcmp(souk_cfg->payments, "stripe") && souk_cfg->sandbox_period_seconds > 0)
        return (int64_t)souk_cfg->sandbox_period_seconds * 1000000;
    return interval && !strcmp(interval, "year") ? 365 * day : 30 * day;
}

/* Starts the first period (incomplete -> active). */
void subs_activate(struct subscription *s, int64_t start, int64_t end)
{
    snprintf(s->status, sizeof s->status, "active");
    s->current_period_start = start ? start : clock_now_us();
    s->current_period_end = end > s->current_period_start
                                ? end
                                : s->current_period_start + subs_interval_us(s->plan_interval);
    s->grace_until = 0;
}

/* A paid renewal: period end only moves forward; a pending downgrade applies. */
void subs_renew(struct subscription *s, int64_t start, int64_t end)
{
    if (end > s->current_period_end) {
        s->current_period_start = start ? start : s->current_period_end;
        s->current_period_end = end;
        if (s->pending_plan_id[0]) {
            str_copy(s->plan_id, sizeof s->plan_id, s->pending_plan_id);
            s->pending_plan_id[0] = 0;
        }
    }
    snprintf(s->status, sizeof s->status, "active");
    s->grace_until = 0;
}

void subs_past_due(struct subscription *s)
{
    int64_t base = s->current_period_end ? s->current_period_end : clock_now_us();

    snprintf(s->status, sizeof s->status, "past_due");
    if (!s->grace_until)
        s->grace_until = base + subs_grace_us();
}

void subs_end(struct subscription *s, const char *status)
{
    snprintf(s->status, sizeof s->status, "%s", status);
    s->ended_at = clock_now_us();
    s->cancel_at_period_end = 0;
}

int subs_is_final(const struct subscription *s)
{
    return !strcmp(s->status, "canceled") || !strcmp(s->status, "expired");
}

/* ---- provider follow-ups (jobs.c runs them) ------------------------------------------------- */

int subs_provider_job(struct db_conn *tx, const struct subscription *s, const char *op,
                      struct souk_errinfo *ei)
{
    json_t *p = json_pack("{s:s, s:s}", "id", s->id, "op", op);
    int err = job_enqueue(tx, SUBS_JOB_PROVIDER, p, 0, NULL, NULL, ei);

    json_decref(p);
    return err;
}

/* ---- user actions ------------------------------------------------------------------------------
 */

struct plan_row {
    char vendor_id[37];
    const char *name;
    int64_t price;
    char currency[4];
    char interval[8];
    int rank;
    int active;
};

static int plan_read(struct db_conn *c, const char *plan_id, struct arena *a, struct plan_row *o,
                     struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(c,
                       "SELECT vendor_id, name, price, currency, billing_interval, rank, "
                       "is_active FROM plans WHERE id = $1",
                       DB_PARAMS(DBT(plan_id)), &res, ei);

    if (!err && db_nrows(res) == 0) {
        souk_errinfo_field(ei, "plan_id", "No such plan.");
        err = souk_fail(ei, SOUK_INVALID, "No such plan.");
    }
    if (!err) {
        str_copy(o->vendor_id, sizeof o->vendor_id, db_get(res, 0, 0));
        o->name = arena_strdup(a, db_get(res, 0, 1));
        o->price = db_int(res, 0, 2);
        str_copy(o->currency, sizeof o->currency, db_get(res, 0, 3));
        str_copy(o->interval, sizeof o->interval, db_get(res, 0, 4));
        o->rank = (int)db_int(res, 0, 5);
        o->active = db_bool(res, 0, 6);
    }
    db_res_free(res);
    return err;
}

static int chef_owner(struct db_conn *c, const char *chef_id, char owner[37],
                      struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    int err = db_query(c, "SELECT user_id FROM vendor_profiles WHERE id = $1",
                       DB_PARAMS(DBT(chef_id)), &res, ei);

    if (!err && db_nrows(res) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such chef.");
    if (!err)
        str_copy(owner, 37, db_get(res, 0, 0));
    db_res_free(res);
    return err;
}

/* Incomplete subscriptions of the user to the chef are replaced: expired,
 * and their checkout expired at the provider by a job. */
static int replace_incomplete(struct db_conn *tx, const struct subs_subscribe *in,
                              struct souk_errinfo *ei)
{
    struct subs_cause why = {"replaced", in->user_id, NULL, "a new subscribe replaced it"};
    struct db_res *res = NULL;
    int err = db_query(tx,
                       "SELECT id FROM subscriptions WHERE user_id = $1 AND chef_id = $2 AND "
                       "status = 'incomplete'",
                       DB_PARAMS(DBT(in->user_id), DBT(in->chef_id)), &res, ei);

    for (int i = 0; !err && i < db_nrows(res); i++) {
        struct subscription s;
        if ((err = subs_load(tx, db_get(res, i, 0), 1, in->arena, &s, ei)))
            break;
        subs_end(&s, "expired");
        if (!(err = subs_commit_change(tx, "incomplete", &s, &why, in->arena, ei)) &&
            s.payment_id && *s.payment_id) {
            json_t *p = json_pack("{s:s}", "payment_id", s.payment_id);
            err = job_enqueue(tx, SUBS_JOB_EXPIRE_CHECKOUT, p, 0, NULL, NULL, ei);
            json_decref(p);
        }
    }
    db_res_free(res);
    return err;
}

static int subscribe_checks(struct db_conn *tx, const struct subs_subscribe *in,
                            struct plan_row *plan, struct souk_errinfo *ei)
{
    struct db_res *res = NULL;
    char owner[37];
    int err;

    if ((err = chef_owner(tx, in->chef_id, owner, ei)))
        return err;
    if (strcmp(owner, in->user_id) == 0) {
        souk_errinfo_field(ei, "chef_id", "You cannot subscribe to yourself.");
        return souk_fail(ei, SOUK_INVALID, "You cannot subscribe to yourself.");
    }
    if ((err = plan_read(tx, in->plan_id, in->arena, plan, ei)))
        return err;
    if (strcmp(plan->vendor_id, in->chef_id) || !plan->active) {
        souk_errinfo_field(ei, "plan_id", "Not an active plan of this chef.");
        return souk_fail(ei, SOUK_INVALID, "Not an active plan of this chef.");
    }
    err = db_query(tx,
                   "SELECT 1 FROM subscriptions WHERE user_id = $1 AND chef_id = $2 AND status "
                   "IN ('active', 'past_due')",
                   DB_PARAMS(DBT(in->user_id), DBT(in->chef_id)), &res, ei);
    if (!err && db_nrows(res) > 0)
        err = souk_fail(ei, SOUK_CONFLICT, "You already have a subscription to this chef.");
    db_res_free(res);
    return err;
}

int subs_subscribe_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct subs_subscribe *in = arg;
    struct subs_cause why = {"user", in->user_id, NULL, "subscribed"};
    struct plan_row plan;
    int64_t now = clock_now_us();
    char id[37];
    int err;

    in->have_checkout = 0;
    if ((err = subscribe_checks(tx, in, &plan, ei)) || (err = replace_incomplete(tx, in, ei)))
        return err;
    uuid_v7(id);
    err =
        db_exec(tx,
                "INSERT INTO subscriptions (id, user_id, chef_id, plan_id, status, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, 'incomplete', $5, $5)",
                DB_PARAMS(DBT(id), DBT(in->user_id), DBT(in->chef_id), DBT(in->plan_id), DBI(now)),
                NULL, ei);
    if (!err)
        err = subs_load(tx, id, 1, in->arena, &in->out, ei);
    if (err)
        return err;
    if (plan.price == 0) { /* a free tier: nothing to pay, active at once */
        subs_activate(&in->out, now, 0);
        return subs_commit_change(tx, "incomplete", &in->out, &why, in->arena, ei);
    }
    if ((err = subs_checkout_spec_tx(tx, &in->out, in->arena, &in->cs, ei)))
        return err;
    in->have_checkout = 1;
    return db_exec(tx, "UPDATE subscriptions SET payment_id = $2 WHERE id = $1",
                   DB_PARAMS(DBT(id), DBT(in->cs.payment_id)), NULL, ei);
}

int subs_set_checkout_url(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct subs_subscribe *in = arg;

    return db_exec(c, "UPDATE subscriptions SET checkout_url = $2 WHERE id = $1",
                   DB_PARAMS(DBT(in->out.id), DBT(in->cs.url)), NULL, ei);
}

/* The owner's subscription, locked; others get NOT_FOUND (API.md). */
static int load_own(struct db_conn *tx, struct subs_action *in, struct souk_errinfo *ei)
{
    int err = subs_load(tx, in->id, 1, in->arena, &in->out, ei);

    if (!err && strcmp(in->out.user_id, in->user_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such subscription.");
    return err;
}

int subs_cancel_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct subs_action *in = arg;
    struct subs_cause why = {"user", in->user_id, NULL, NULL};
    struct subscription *s = &in->out;
    char from[12];
    int err;

    if ((err = load_own(tx, in, ei)))
        return err;
    str_copy(from, sizeof from, s->status);
    if (subs_is_final(s))
        return souk_fail(ei, SOUK_PRECONDITION, "This subscription has already ended.");
    if (in->immediately || !strcmp(s->status, "incomplete")) {
        why.detail = "canceled immediately";
        subs_end(s, "canceled");
        err = subs_commit_change(tx, from, s, &why, in->arena, ei);
        return err ? err : subs_provider_job(tx, s, "cancel_now", ei);
    }
    if (s->cancel_at_period_end)
        return 0; /* already set: idempotent */
    why.detail = "cancel at period end";
    s->cancel_at_period_end = 1;
    s->cancel_set_at = clock_now_us();
    err = subs_commit_change(tx, from, s, &why, in->arena, ei);
    return err ? err : subs_provider_job(tx, s, "cancel_at_period_end", ei);
}

int subs_resume_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct subs_action *in = arg;
    struct subs_cause why = {"user", in->user_id, NULL, "resumed"};
    struct subscription *s = &in->out;
    int err;

    if ((err = load_own(tx, in, ei)))
        return err;
    if (strcmp(s->status, "active") || !s->cancel_at_period_end ||
        s->current_period_end <= clock_now_us())
        return souk_fail(ei, SOUK_PRECONDITION, "There is no pending cancel to undo.");
    s->cancel_at_period_end = 0;
    s->cancel_set_at = clock_now_us();
    err = subs_commit_change(tx, "active", s, &why, in->arena, ei);
    return err ? err : subs_provider_job(tx, s, "resume", ei);
}

/* Upgrade: the new tier now. Downgrade: at the next renewal. */
int subs_change_plan_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct subs_action *in = arg;
    struct subs_cause why = {"user", in->user_id, NULL, NULL};
    struct subscription *s = &in->out;
    struct plan_row plan;
    int err;

    if ((err = load_own(tx, in, ei)) || (err = plan_read(tx, in->plan_id, in->arena, &plan, ei)))
        return err;
    if (strcmp(plan.vendor_id, s->chef_id) || !plan.active) {
        souk_errinfo_field(ei, "plan_id", "Not an active plan of this chef.");
        return souk_fail(ei, SOUK_INVALID, "Not an active plan of this chef.");
    }
    if (strcmp(s->status, "active"))
        return souk_fail(ei, SOUK_PRECONDITION, "Only an active subscription changes tier.");
    if (!strcmp(in->plan_id, s->plan_id)) {
        if (!s->pending_plan_id[0])
            return 0;
        s->pending_plan_id[0] = 0; /* back to the current tier: drop the downgrade */
        why.detail = "pending downgrade dropped";
    } else if (plan.rank >= s->plan_rank) {
        str_copy(s->plan_id, sizeof s->plan_id, in->plan_id);
        s->pending_plan_id[0] = 0;
        why.detail = "upgraded";
    } else {
        str_copy(s->pending_plan_id, sizeof s->pending_plan_id, in->plan_id);
        why.detail = "downgrade at renewal";
    }
    err = subs_commit_change(tx, "active", s, &why, in->arena, ei);
    return err ? err : subs_provider_job(tx, s, "change_price", ei);
}
