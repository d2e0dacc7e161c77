/* subscriptions.h - subscribing to chefs: the state machine, its payment
 * purpose, the jobs that enforce time, and the status cache that makes
 * access checks cheap.
 *
 * States (API.md § Subscriptions):
 *   incomplete --first payment--> active --renewal fails / not renewed--> past_due
 *   past_due --a retry is paid--> active;  past_due --grace ends--> expired
 *   active --cancel takes effect / immediate cancel--> canceled
 *   incomplete --checkout expires / replaced--> expired
 * canceled and expired are final: no later event brings them back, and no
 * event moves a period end backwards. Every transition is logged in
 * subscription_events with its cause, notifies the subscriber
 * ("subscription.updated"), and invalidates the status cache (this node at
 * commit; other nodes through Redis pub/sub when SOUK_REDIS_URL is set).
 *
 * What grants access now (subscriptions_grant_rank):
 *   active, not set to cancel      until period end + grace (jobs act first)
 *   active, set to cancel          until current_period_end
 *   past_due                       until grace_until
 *
 * Tables owned: subscriptions, subscription_events (migration 0005).
 * Thread safety: all functions are thread-safe; init/shutdown from the
 * main thread.
 */
#ifndef SOUK_SUBSCRIPTIONS_H
#define SOUK_SUBSCRIPTIONS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct router;

struct subscription {
    char id[37];
    char user_id[37];
    char chef_id[37];
    char plan_id[37];
    char pending_plan_id[37]; /* "" when none */
    char status[12];
    int cancel_at_period_end;
    int64_t current_period_start; /* 0: not started */
    int64_t current_period_end;
    int64_t grace_until;   /* 0: none */
    int64_t cancel_set_at; /* when souk last set cancel_at_period_end */
    int64_t ended_at;
    int64_t created_at;
    int64_t updated_at;
    const char *checkout_url; /* NULL when none */
    const char *provider_id;  /* sub_..., NULL until known */
    const char *payment_id;
    /* the plan, embedded */
    const char *plan_name;
    int plan_rank;
    int64_t plan_price;
    char plan_currency[4];
    char plan_interval[8];
};

/* ---- access (cache.c): no query on a cache hit --------------------------- */
/* *rank = the plan rank the user's subscription to chef grants now, 0 for
 * none. c is used only on a cache miss. */
int subscriptions_grant_rank(struct db_conn *c, const char *user_id, const char *chef_id, int *rank,
                             struct souk_errinfo *ei);
/* Drops the user's cached grants here and on every node (call after
 * commit; subscriptions.c does it for every transition). */
void subscriptions_cache_invalidate(const char *user_id);

/* ---- statistics for vendor profiles (src/vendors) ------------------------ */
int subscriptions_count_for_chef(struct db_conn *c, const char *chef_id, int64_t *n,
                                 struct souk_errinfo *ei);
/* The same for a page of chefs in one query: counts[i] for chef_ids[i]
 * (n <= SUBSCRIPTIONS_COUNT_BATCH_MAX). */
#define SUBSCRIPTIONS_COUNT_BATCH_MAX 100
int subscriptions_count_for_chefs(struct db_conn *c, const char *const *chef_ids, int n,
                                  int64_t *counts, struct souk_errinfo *ei);
/* *yes = 1 when user_id has a subscription to chef_id that grants access now. */
int subscriptions_is_subscribed(struct db_conn *c, const char *user_id, const char *chef_id,
                                int *yes, struct souk_errinfo *ei);
/* The chef's current subscribers, newest first, at most `limit`
 * (new reference): [{id, user_id, email, first_name, last_name, plan, status,
 * current_period_end, since}]. */
int subscriptions_list_subscribers(struct db_conn *c, const char *chef_id, int limit, json_t **out,
                                   struct souk_errinfo *ei);

/* ---- reading --------------------------------------------------------------- */
int subscriptions_get(struct db_conn *c, const char *id, struct arena *a, struct subscription *out,
                      struct souk_errinfo *ei);
json_t *subscriptions_to_json(const struct subscription *s); /* new reference */

/* ---- module ------------------------------------------------------------------ */
/* Registers the "subscription" payment purpose, the job kinds and the sweep,
 * and starts the cache's Redis listener when SOUK_REDIS_URL is set. Call
 * before jobs_start. */
int subscriptions_init(struct db *db, struct souk_errinfo *ei);
void subscriptions_shutdown(void);
void subscriptions_http_register(struct router *r);

#endif
