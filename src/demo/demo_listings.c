/* demo_listings.c - the listings part of `souk demo`: two breeders with
 * listings that carry attributes and coordinates in real cities, a buyer,
 * and a few threads between them. Everything goes through the domains'
 * own functions (users, vendors, listings, messaging), so it is exactly
 * what the API would have made. Thread safety: one call at a time.
 */
#include <stdio.h>

#include "core/arena.h"
#include "core/log.h"
#include "demo/demo.h"
#include "listings/listings.h"
#include "messaging/messaging.h"
#include "users/users.h"
#include "vendors/vendors.h"

struct demo_city {
    const char *name;
    double lat, lon;
};

static const struct demo_city CITIES[] = {
    {"Paris", 48.8566, 2.3522}, {"London", 51.5074, -0.1278}, {"Berlin", 52.52, 13.405},
    {"Madrid", 40.4168, -3.7038}, {"Rome", 41.9028, 12.4964}, {"Amsterdam", 52.3676, 4.9041}};

static const char *const PETS[][3] = {
    {"Beagle puppy", "dogs", "{\"breed\":\"beagle\",\"age_weeks\":10,\"vaccinated\":true}"},
    {"Maine Coon kitten", "cats",
     "{\"breed\":\"maine coon\",\"age_weeks\":12,\"vaccinated\":true,\"colour\":\"tabby\"}"},
    {"Border collie", "dogs", "{\"breed\":\"border collie\",\"age_weeks\":9,\"vaccinated\":false}"},
    {"Siamese kitten", "cats", "{\"breed\":\"siamese\",\"age_weeks\":11,\"pedigree\":true}"}};

static int breeder(struct db *db, const char *tag, int i, struct arena *a,
                   struct vendor_profile *p, struct souk_errinfo *ei)
{
    char email[128], name[64], uid[37];
    struct vendor_in in = {.business_name = name, .bio = "Family breeder.", .address = ""};
    int err;

    snprintf(email, sizeof email, "breeder%d-%s@demo.souk.test", i + 1, tag);
    snprintf(name, sizeof name, "Happy Paws %d", i + 1);
    in.city = CITIES[i].name;
    if ((err = users_create(db, email, DEMO_PASSWORD, "VENDOR", "Breeder", name, uid, ei)))
        return err;
    printf("  breeder  %s\n", email);
    return vendors_create(db, uid, &in, a, p, ei);
}

static int listing(struct db *db, const struct vendor_profile *p, int k, struct arena *a,
                   struct listing *out, struct souk_errinfo *ei)
{
    const struct demo_city *c = &CITIES[k % 6];
    struct listing_in in = {.title = PETS[k % 4][0], .description = "Healthy and playful.",
                            .category = PETS[k % 4][1], .city = c->name,
                            .status = "active", .attributes = PETS[k % 4][2],
                            .price = 45000 + 2500 * k, .coords = 1, .lat = c->lat,
                            .lon = c->lon};
    return listings_create(db, p->id, p->user_id, &in, a, out, ei);
}

int demo_listings(struct db *db, const char *tag)
{
    struct souk_errinfo ei = {0};
    struct arena *a = arena_new(0);
    struct vendor_profile pr[2];
    struct listing l[8] = {0};
    char email[128], buyer[37];
    int err = 0;

    for (int i = 0; !err && i < 2; i++)
        err = breeder(db, tag, i, a, &pr[i], &ei);
    for (int k = 0; !err && k < 8; k++)
        err = listing(db, &pr[k % 2], k, a, &l[k], &ei);
    snprintf(email, sizeof email, "buyer-%s@demo.souk.test", tag);
    if (!err && !(err = users_create(db, email, DEMO_PASSWORD, "CUSTOMER", "Sam", "Buyer", buyer,
                                     &ei)))
        printf("  buyer    %s\n", email);
    for (int k = 0; !err && k < 3; k++) {
        struct thread_open o = {.listing_id = l[k].id, .body = "Hello, is it still available?"};
        struct thread t;
        err = messaging_thread_open(db, buyer, &o, a, &t, &ei);
    }
    if (err)
        log_error("demo listings: %s: %s", souk_err_str(err), ei.detail);
    souk_errinfo_cleanup(&ei);
    arena_free(a);
    return err;
}
