/* demo.h - `souk demo [--recipes N]`: a living demo marketplace.
 *
 * Creates chefs (VENDOR users with profiles and two plans each), N recipes
 * across cuisines, dietary tags and difficulties (about a quarter premium,
 * some for sale), and a few customers subscribed to some chefs, so that the
 * README's run command shows a cookbook with something in it; and
 * specialists, requests, reviews, a promotion, blog posts, listings and
 * threads (demo_projects.c, demo_home.c, demo_listings.c). The accounts
 * it makes are printed on stdout (password DEMO_PASSWORD).
 *
 * Recipes are inserted in batches (multi-row INSERTs, DEMO_BATCH rows per
 * transaction), so a 1,000,000-recipe cookbook for benchmarks takes
 * minutes, not hours. Run it again to add another, independent batch.
 *
 * Thread safety: one call at a time; it uses the pool it is given.
 */
#ifndef SOUK_DEMO_H
#define SOUK_DEMO_H

struct db;

#define DEMO_PASSWORD        "demo-password-42"
#define DEMO_RECIPES_DEFAULT 3000

/* progress (may be NULL) is called now and then with recipes done/total.
 * Returns 0, or a souk error (the detail is logged). */
int demo_run(struct db *db, int recipes, void (*progress)(long done, long total));

/* Home services (demo_projects.c): specialists with projects and generated
 * images; tag makes the e-mail addresses unique per run. */
struct souk_errinfo;
#define DEMO_SPECIALISTS 4
struct demo_specialist {
    char user_id[37], vendor_id[37];
    char project_id[37]; /* the first of its projects */
};
int demo_projects(struct db *db, const char *tag, struct demo_specialist out[DEMO_SPECIALISTS],
                  struct souk_errinfo *ei);
/* Requests to the specialists (some completed, with reviews and a reply),
 * a pending promotion and blog posts (demo_home.c). */
int demo_home(struct db *db, const char *tag, const struct demo_specialist *specs, int n,
              struct souk_errinfo *ei);
/* Listings with attributes and coordinates, and a few threads (demo_listings.c). */
int demo_listings(struct db *db, const char *tag);

#endif
