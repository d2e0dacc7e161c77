/* internal.h - shared between the files of src/subscriptions/ (and its unit
 * tests); other domains use subscriptions.h. */
#ifndef SOUK_SUBSCRIPTIONS_INTERNAL_H
#define SOUK_SUBSCRIPTIONS_INTERNAL_H

#include <stdint.h>
#include "core/err.h"
#include "payments/payments.h"
#include "subscriptions/subscriptions.h"

struct arena;
struct db_conn;
struct db_res;

#define SUBS_JOB_PERIOD_END      "subscriptions.period_end"
#define SUBS_JOB_GRACE_END       "subscriptions.grace_end"
#define SUBS_JOB_PROVIDER        "subscriptions.provider"
#define SUBS_JOB_EXPIRE_CHECKOUT "subscriptions.expire_checkout"
#define SUBS_SWEEP               "subscriptions.sweep"

/* Who or what caused a change (subscription_events). */
struct subs_cause {
    const char *cause;    /* user | replaced | webhook:<type> | job:<kind> | reconcile */
    const char *actor;    /* user id, or NULL */
    const char *event_id; /* evt_..., or NULL */
    const char *detail;
};

/* ---- subscriptions.c ---------------------------------------------------- */
void subs_row_read(const struct db_res *r, int i, struct arena *a, struct subscription *s);
int subs_load(struct db_conn *c, const char *id, int lock, struct arena *a,
              struct subscription *out, struct souk_errinfo *ei);
/* Writes s (whose status was from_status), logs, notifies, schedules,
 * mails, and invalidates the cache at commit. Reloads s. */
int subs_commit_change(struct db_conn *tx, const char *from_status, struct subscription *s,
                       const struct subs_cause *why, struct arena *a, struct souk_errinfo *ei);
int64_t subs_interval_us(const char *interval);
void subs_activate(struct subscription *s, int64_t start, int64_t end);
void subs_renew(struct subscription *s, int64_t start, int64_t end);
void subs_past_due(struct subscription *s);
void subs_end(struct subscription *s, const char *status);
/* Enqueues the provider follow-up `op` (cancel_now, ...) of a change. */
int subs_provider_job(struct db_conn *tx, const struct subscription *s, const char *op,
                      struct souk_errinfo *ei);
/* Registers the subscriptions part of the export and the erasure (erase.c). */
void subs_userdata_register(void);
int subs_is_final(const struct subscription *s);

/* db_tx_fn arguments for the user actions. */
struct subs_subscribe {
    const char *user_id, *chef_id, *plan_id;
    struct arena *arena;
    struct subscription out;
    struct checkout_session cs;
    int have_checkout;
};
int subs_subscribe_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei);
int subs_set_checkout_url(struct db_conn *c, void *arg, struct souk_errinfo *ei);

struct subs_action {
    const char *user_id, *id;
    int immediately;     /* cancel */
    const char *plan_id; /* change tier */
    struct arena *arena;
    struct subscription out;
};
int subs_cancel_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei);
int subs_resume_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei);
int subs_change_plan_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei);

/* db_fn arguments for a user's subscriptions, newest first, one keyset page
 * (rows and their strings in arena a). status: NULL for those granting access
 * now, "all", or one status. */
struct keyset;
struct subs_list {
    const char *user_id;
    const char *status;
    const struct keyset *ks;
    struct arena *a;
    struct subscription *rows; /* out: n rows */
    int n;
};
int subs_list_rows(struct db_conn *c, void *arg, struct souk_errinfo *ei);

/* ---- actions.c: what the handlers call, each owning its transaction ------- */
struct db;
int subs_list_mine(struct db *db, struct subs_list *la, struct souk_errinfo *ei);
/* The user's subscription id (another's, or none: SOUK_NOT_FOUND). */
int subs_get_mine(struct db *db, const char *id, const char *user_id, struct arena *a,
                  struct subscription *out, struct souk_errinfo *ei);
int subs_change_plan(struct db *db, struct subs_action *in, struct souk_errinfo *ei);
int subs_cancel(struct db *db, struct subs_action *in, struct souk_errinfo *ei);
int subs_resume(struct db *db, struct subs_action *in, struct souk_errinfo *ei);
/* The incomplete subscription and, when it has one, its checkout opened at
 * the provider (in->cs; in->out.checkout_url). */
int subs_subscribe_open(struct db *db, struct subs_subscribe *in, struct souk_errinfo *ei);
/* The chef's subscriber count and, with_list, the newest 100 (*out). */
int subs_subscribers(struct db *db, const char *chef_id, int with_list, int64_t *count,
                     json_t **out, struct souk_errinfo *ei);

/* ---- purpose.c: the "subscription" payment purpose ------------------------- */
/* Records the checkout intent of an incomplete subscription. */
int subs_checkout_spec_tx(struct db_conn *tx, const struct subscription *s, struct arena *a,
                          struct checkout_session *cs, struct souk_errinfo *ei);
void subs_purpose_register(void);

/* ---- jobs.c ------------------------------------------------------------------ */
void subs_jobs_register(void);

/* ---- cache.c ------------------------------------------------------------ */
/* Puts the cache on the bus (invalidation from other nodes). 0 ok. */
int subs_cache_start(struct souk_errinfo *ei);
void subs_cache_stop(void);
/* Drops the user's entry on this node only. */
void subs_cache_drop_local(const char *user_id);
/* For tests and /metrics: hits and misses so far. */
void subs_cache_stats(long *hits, long *misses);
/* Grace period in microseconds (SOUK_GRACE_SECONDS). */
int64_t subs_grace_us(void);

#endif
