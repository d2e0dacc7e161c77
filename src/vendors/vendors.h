/* vendors.h - vendor profiles (chefs, shops, specialists) and their plans.
 *
 * A vendor is a user with role VENDOR and at most one vendor profile; the
 * profile's id is what every {id}, chef_id and vendor_id in the API means.
 * Plans are the vendor's subscription tiers (rank >= 1 orders them).
 * Owns the tables vendor_profiles and plans; statistics about a vendor are
 * computed by vendors_stats() alone.
 *
 * Strings in returned structs are allocated from the arena passed in.
 * Functions taking a struct db run their own transactions. Thread-safe.
 */
#ifndef SOUK_VENDORS_H
#define SOUK_VENDORS_H

#include <stdint.h>
#include <jansson.h>
#include "auth/auth.h"
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct keyset;
struct router;
struct user;
struct user_new;

#define VENDOR_TEXT_MAX 5000
#define VENDOR_NAME_MAX 200
#define VENDOR_SPECIALTIES_MAX 20

struct vendor_profile {
    char id[37];
    char user_id[37];
    const char *business_name;
    const char *address;
    const char *bio;
    const char *specialties; /* JSON array text */
    const char *city;
    const char *categories; /* JSON array text (home-services specialist categories) */
    int is_verified;
    int64_t created_at;
};

/* Input of a create or an update: NULL fields are left as they are (or
 * default to "" / [] on create). */
struct vendor_in {
    const char *business_name;
    const char *address;
    const char *bio;
    const json_t *specialties; /* array of strings */
    const char *city;
    const json_t *categories; /* array of slugs (projects/specialists.h) */
};

struct plan {
    char id[37];
    char vendor_id[37];
    const char *name;
    const char *description;
    int64_t price; /* minor units */
    char currency[4];
    char interval[8]; /* "month" | "year" */
    int rank;
    int is_active;
    int64_t created_at;
};

struct vendor_stats {
    int64_t subscriber_count;
    int64_t recipe_count;
    int64_t premium_recipe_count;
    int is_subscribed; /* the viewer has a subscription that grants access now */
};

void vendors_http_register(struct router *r);

int vendors_create(struct db *db, const char *user_id, const struct vendor_in *in,
                   struct arena *a, struct vendor_profile *out, struct souk_errinfo *ei);
int vendors_get(struct db *db, const char *id, struct arena *a, struct vendor_profile *out,
                struct souk_errinfo *ei);
/* The same, inside the caller's transaction. */
int vendors_get_tx(struct db_conn *c, const char *id, struct arena *a, struct vendor_profile *out,
                   struct souk_errinfo *ei);
int vendors_plans_tx(struct db_conn *c, const char *vendor_id, int with_inactive,
                     struct arena *a, struct plan **out, int *n, struct souk_errinfo *ei);
/* Registers the vendors part of the export and the erasure (userdata.h). */
void vendors_init(void);
int vendors_get_by_user(struct db *db, const char *user_id, struct arena *a,
                        struct vendor_profile *out, struct souk_errinfo *ei);
int vendors_update(struct db *db, const char *id, const struct vendor_in *in, struct arena *a,
                   struct vendor_profile *out, struct souk_errinfo *ei);
struct audit_actor;
int vendors_set_verified(struct db *db, const struct audit_actor *actor, const char *id,
                         int verified, struct arena *a, struct vendor_profile *out,
                         struct souk_errinfo *ei);
/* A VENDOR user, their profile and a first pair of tokens, atomically. */
int vendors_register_chef(struct db *db, const struct user_new *u, const struct vendor_in *in,
                          struct arena *a, struct vendor_profile *out, struct user *out_user,
                          struct auth_tokens *tokens, struct souk_errinfo *ei);
/* Profiles newest first, ks->limit rows at most. */
int vendors_list(struct db *db, const struct keyset *ks, struct arena *a,
                 struct vendor_profile **out, int *n, struct souk_errinfo *ei);

/* Plans of a vendor by rank; inactive ones only when with_inactive. */
int vendors_plans(struct db *db, const char *vendor_id, int with_inactive, struct arena *a,
                  struct plan **out, int *n, struct souk_errinfo *ei);
int vendors_plan_create(struct db *db, const struct plan *in, struct arena *a, struct plan *out,
                        struct souk_errinfo *ei);

/* Every statistic about a vendor, for a viewer (NULL: anonymous). */
/* The domains that count something about vendors (recipes: recipe counts;
 * subscriptions: subscriber_count, is_subscribed) register a source at init
 * that fills their fields of out[0..n) for ids[0..n) (n <=
 * VENDOR_STATS_BATCH_MAX; viewer NULL when anonymous), in the caller's
 * transaction. An inversion: vendors reads neither's tables nor headers. */
struct vendor_stats_source {
    int (*fill)(struct db_conn *c, const char *const *ids, int n, const char *viewer,
                struct vendor_stats *out, struct souk_errinfo *ei);
};
#define VENDOR_STATS_SOURCES_MAX 4
void vendors_register_stats(const struct vendor_stats_source *s);

int vendors_stats(struct db *db, const char *vendor_id, const char *viewer_user_id,
                  struct vendor_stats *out, struct souk_errinfo *ei);
/* The same for a page of vendors (lists): out[i] for vendor_ids[i], with one
 * query per count for each batch of VENDOR_STATS_BATCH_MAX vendors. */
#define VENDOR_STATS_BATCH_MAX 100
int vendors_stats_page(struct db *db, const char *const *vendor_ids, int n,
                       const char *viewer_user_id, struct vendor_stats *out,
                       struct souk_errinfo *ei);

json_t *vendors_profile_to_json(const struct vendor_profile *p); /* new reference */
json_t *vendors_plan_to_json(const struct plan *p);

#endif
