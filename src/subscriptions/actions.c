/* actions.c - what /api/subscriptions/... and /api/chefs/{id}/subscribers/
 * call (subscriptions_http.c): a user's reads and actions, each owning its
 * transaction, and the module's init. The rules live in subscriptions.c
 * (the transaction bodies) and purpose.c (the payment).
 *
 * Thread safety: no shared state beyond what subscriptions_init starts.
 */
#include <string.h>

#include "core/config.h"
#include "db/db.h"
#include "payments/payments.h"
#include "subscriptions/internal.h"
#include "vendors/vendors.h"

int subs_list_mine(struct db *db, struct subs_list *la, struct souk_errinfo *ei)
{
    return db_run(db, subs_list_rows, la, ei);
}

struct get_args {
    const char *id;
    struct arena *a;
    struct subscription *out;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;
    return subs_load(c, g->id, 0, g->a, g->out, ei);
}

int subs_get_mine(struct db *db, const char *id, const char *user_id, struct arena *a,
                  struct subscription *out, struct souk_errinfo *ei)
{
    struct get_args g = {id, a, out};
    int err = db_run(db, get_fn, &g, ei);

    if (!err && strcmp(out->user_id, user_id))
        err = souk_fail(ei, SOUK_NOT_FOUND, "%s", "No such subscription.");
    return err;
}

int subs_change_plan(struct db *db, struct subs_action *in, struct souk_errinfo *ei)
{
    return db_tx_run(db, subs_change_plan_tx, in, ei);
}

int subs_cancel(struct db *db, struct subs_action *in, struct souk_errinfo *ei)
{
    return db_tx_run(db, subs_cancel_tx, in, ei);
}

int subs_resume(struct db *db, struct subs_action *in, struct souk_errinfo *ei)
{
    return db_tx_run(db, subs_resume_tx, in, ei);
}

int subs_subscribe_open(struct db *db, struct subs_subscribe *in, struct souk_errinfo *ei)
{
    int err = db_tx_run(db, subs_subscribe_tx, in, ei);

    if (err || !in->have_checkout)
        return err;
    /* the provider outside any transaction, then its URL on the row */
    if ((err = payments_checkout_open(db, &in->cs, ei)) ||
        (err = db_run(db, subs_set_checkout_url, in, ei)))
        return err;
    in->out.checkout_url = in->cs.url;
    return 0;
}

struct subscribers_args {
    const char *chef_id;
    int with_list;
    int64_t *count;
    json_t **out;
};

static int subscribers_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct subscribers_args *s = arg;
    int err = subscriptions_count_for_chef(c, s->chef_id, s->count, ei);

    if (!err && s->with_list) /* the newest 100 subscribers */
        err = subscriptions_list_subscribers(c, s->chef_id, 100, s->out, ei);
    return err;
}

int subs_subscribers(struct db *db, const char *chef_id, int with_list, int64_t *count,
                     json_t **out, struct souk_errinfo *ei)
{
    struct subscribers_args sa = {chef_id, with_list, count, out};

    *out = NULL;
    return db_run(db, subscribers_fn, &sa, ei);
}

/* subscriber_count and is_subscribed of vendor statistics (vendors.h). */
static int fill_stats(struct db_conn *c, const char *const *ids, int n, const char *viewer,
                      struct vendor_stats *out, struct souk_errinfo *ei)
{
    int64_t subs[SUBSCRIPTIONS_COUNT_BATCH_MAX];
    int err = subscriptions_count_for_chefs(c, ids, n, subs, ei);

    for (int i = 0; !err && i < n; i++) {
        out[i].subscriber_count = subs[i];
        if (viewer)
            err = subscriptions_is_subscribed(c, viewer, ids[i], &out[i].is_subscribed, ei);
    }
    return err;
}

static const struct vendor_stats_source subs_stats_source = {fill_stats};

int subscriptions_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    subs_purpose_register();
    subs_jobs_register();
    subs_userdata_register();
    vendors_register_stats(&subs_stats_source);
    return subs_cache_start(ei);
}

void subscriptions_shutdown(void)
{
    subs_cache_stop();
}
