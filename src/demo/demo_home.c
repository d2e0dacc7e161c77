/* demo_home.c - the requests, reviews, promotions and blog of `souk demo`:
 * three clients send each demo specialist a request; two of every three
 * are carried to completion and reviewed (ratings 3 to 5; the first
 * specialist replies to its first review), the rest stay new. The first
 * specialist has bought a TOP promotion for its first project and paid it at
 * the built-in sandbox (payments_sandbox_pay; the payment's webhook is a job
 * that the server runs when it starts, and the promotion is then active), and
 * an editor (MODERATOR) has written two blog posts, one published, one a
 * draft. Everything goes through the domain functions the API uses.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "blog/blog.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "demo/demo.h"
#include "payments/payments.h"
#include "promotions/promotions.h"
#include "requests/requests.h"
#include "users/users.h"

#define DEMO_CLIENTS 3

static const char *const NEEDS[] = {
    "We would like a new kitchen with an island; the room is about 20 m2.",
    "Our bathroom needs new tiles and a walk-in shower.",
    "Could you redesign our living room for a family of four?"};
static const char *const PRAISE[] = {"Good work, a little late.", "Very good: tidy and on budget.",
                                     "Excellent from start to finish!"};

/* A request from client to spec; completed and reviewed when `done`. */
static int demo_request(struct db *db, const char *client, const struct demo_specialist *spec,
                        int k, int done, struct arena *a, struct souk_errinfo *ei)
{
    struct request_in in = {.message = NEEDS[k % 3], .budget = 200000 + 50000 * k,
                            .currency = "usd"};
    struct request r;
    struct review w;
    int err;

    snprintf(in.specialist_id, sizeof in.specialist_id, "%s", spec->vendor_id);
    if ((err = requests_create(db, client, &in, a, &r, ei)) || !done)
        return err;
    if ((err = requests_act(db, r.id, REQUEST_ACCEPT, spec->user_id, a, &r, ei)) ||
        (err = requests_act(db, r.id, REQUEST_FINISH, client, a, &r, ei)) ||
        (err = requests_act(db, r.id, REQUEST_FINISH, spec->user_id, a, &r, ei)))
        return err;
    if ((err = reviews_create(db, &r, 3 + k % 3, PRAISE[k % 3], a, &w, ei)))
        return err;
    return k == 0 ? reviews_reply(db, w.id, "Thank you, it was a pleasure.", a, &w, ei) : 0;
}

static int demo_blog(struct db *db, const char *tag, struct arena *a, struct souk_errinfo *ei)
{
    char email[128], editor[37];
    struct blog_post p;
    struct blog_in post = {.title = "Five ideas for a small kitchen",
                           .excerpt = "Light, storage and one bold colour.",
                           .body = "## Light first\n\nKeep the window free.\n\n"
                                   "## Storage\n\nTall cupboards up to the ceiling.",
                           .has_published = 1, .published_at = clock_now_us()};
    struct blog_in draft = {.title = "Choosing tiles (draft)", .body = "To be written."};
    int err;

    snprintf(email, sizeof email, "editor-%s@demo.souk.test", tag);
    if ((err = users_create(db, email, DEMO_PASSWORD, "MODERATOR", "Eda", "Editor", editor, ei)))
        return err;
    struct audit_actor who = {editor, "MODERATOR"};
    if ((err = blog_create(db, &who, &post, a, &p, ei)) ||
        (err = blog_create(db, &who, &draft, a, &p, ei)))
        return err;
    printf("  editor   %s (blog posts)\n", email);
    return 0;
}

int demo_home(struct db *db, const char *tag, const struct demo_specialist *specs, int n,
              struct souk_errinfo *ei)
{
    struct arena *a = arena_new(0);
    char clients[DEMO_CLIENTS][37], email[128];
    struct promotion promo;
    int err = 0;

    for (int c = 0; c < DEMO_CLIENTS && !err; c++) {
        snprintf(email, sizeof email, "client%02d-%s@demo.souk.test", c + 1, tag);
        err = users_create(db, email, DEMO_PASSWORD, "CUSTOMER", "Client",
                           c == 0 ? "One" : c == 1 ? "Two" : "Three", clients[c], ei);
        if (!err && c == 0)
            printf("  client   %s (requests and reviews)\n", email);
    }
    for (int s = 0; s < n && !err; s++)
        for (int c = 0; c < DEMO_CLIENTS && !err; c++)
            err = demo_request(db, clients[c], &specs[s], s + c, (s + c) % 3 != 2, a, ei);
    if (!err && n > 0)
        err = promotions_create(db, specs[0].user_id, "TOP", specs[0].project_id, a, &promo, ei);
    if (!err && n > 0 && (err = payments_sandbox_pay(db, promo.payment_id, ei)) ==
                             SOUK_PRECONDITION) {
        /* against real Stripe the demo does not pay: the promotion stays pending */
        log_info("demo: promotion left pending: %s", ei->detail);
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        err = 0;
    }
    if (!err)
        err = demo_blog(db, tag, a, ei);
    if (err)
        log_error("demo home services: %s: %s", souk_err_str(err), ei->detail);
    arena_free(a);
    return err;
}
