/* demo_projects.c - the home-services part of `souk demo`: specialists
 * (VENDOR users whose profiles have categories) with portfolio projects,
 * each with generated images (made with libvips through media.h) that the
 * media jobs strip and thumbnail once a server runs. Called from demo_run;
 * one call at a time.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "demo/demo.h"
#include "media/media.h"
#include "projects/projects.h"
#include "users/users.h"
#include "vendors/vendors.h"

#define DEMO_PROJECTS_EACH 3

static const char *const STUDIOS[] = {"Atlas Interiors", "Cedar & Stone", "Bright Renovation",
                                      "Olive Tree Design"};
static const char *const CATS[] = {"kitchens", "bathrooms", "living-rooms", "renovation"};
static const char *const TITLES[] = {"Open kitchen in oak", "Marble bathroom", "Loft living room",
                                     "Terrace renovation", "Family kitchen", "Guest bathroom"};

static int demo_project(struct db *db, const char *vendor_id, int s, int k, struct arena *a,
                        char project_id[37], struct souk_errinfo *ei)
{
    struct project_file files[2];
    struct project p;
    json_t *tags = json_pack("[s, s]", CATS[s % 4], k % 2 ? "modern" : "classic");
    struct project_in in = {.title = TITLES[(s * DEMO_PROJECTS_EACH + k) % 6],
                            .description = "A demo project: before and after.",
                            .category = CATS[s % 4], .city = s % 2 ? "Tunis" : "Sfax",
                            .tags = tags, .has_budget = 1, .budget = 150000 + 25000 * k,
                            .currency = "usd"};
    int err = 0;
    memset(files, 0, sizeof files);
    for (int i = 0; i < 2 && !err; i++) {
        const char *ct = i ? "image/jpeg" : "image/png";
        struct media_info *mi = &files[i].info;
        err = media_make_image(640, 480, s * 31 + k * 7 + i, ct, files[i].sha256, &mi->size, ei);
        mi->content_type = ct;
        mi->kind = "image";
        mi->ext = i ? "jpg" : "png";
        mi->width = 640;
        mi->height = 480;
    }
    if (!err)
        err = projects_create(db, vendor_id, &in, files, 2, a, &p, ei);
    if (!err && k == 0)
        snprintf(project_id, 37, "%s", p.id);
    json_decref(tags);
    return err;
}

int demo_projects(struct db *db, const char *tag, struct demo_specialist out[DEMO_SPECIALISTS],
                  struct souk_errinfo *ei)
{
    int err = 0;
    for (int s = 0; s < DEMO_SPECIALISTS && !err; s++) {
        struct arena *a = arena_new(0);
        char email[128], user_id[37];
        struct vendor_profile p;
        json_t *cats = json_pack("[s]", CATS[s % 4]);
        snprintf(email, sizeof email, "specialist%02d-%s@demo.souk.test", s + 1, tag);
        err = users_create(db, email, DEMO_PASSWORD, "VENDOR", "Studio", STUDIOS[s], user_id, ei);
        if (!err) {
            struct vendor_in in = {.business_name = STUDIOS[s], .bio = "Interiors and renovation.",
                                   .city = s % 2 ? "Tunis" : "Sfax", .address = "",
                                   .categories = cats};
            err = vendors_create(db, user_id, &in, a, &p, ei);
        }
        if (!err) {
            snprintf(out[s].user_id, sizeof out[s].user_id, "%s", user_id);
            snprintf(out[s].vendor_id, sizeof out[s].vendor_id, "%s", p.id);
        }
        for (int k = 0; k < DEMO_PROJECTS_EACH && !err; k++)
            err = demo_project(db, p.id, s, k, a, out[s].project_id, ei);
        if (!err && s == 0)
            printf("demo: specialist %s / %s (%s)\n", email, DEMO_PASSWORD, STUDIOS[s]);
        json_decref(cats);
        arena_free(a);
    }
    return err;
}
