/* specialists.h - what other domains may ask of, and tell, the home-services
 * showcase (API.md § Home services): whether a vendor profile is a
 * specialist, who owns a project, and the denormalised figures that the
 * specialist and project lists order and filter by.
 *
 * The showcase (src/projects/) owns the tables behind these functions.
 * Requests, reviews and promotions (src/requests/, src/promotions/) keep
 * their own rows and, in the same transaction as each change, push the
 * totals here, so that a list is one indexed read that can ORDER BY them.
 * Every function runs inside the caller's transaction.
 */
#ifndef SOUK_PROJECTS_SPECIALISTS_H
#define SOUK_PROJECTS_SPECIALISTS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db_conn;

/* Daily statistics kinds (one row per target per UTC day). */
enum specialist_stat {
    SPECIALIST_STAT_VIEW = 1,
    SPECIALIST_STAT_FAVORITE = 2,
    SPECIALIST_STAT_REQUEST = 3,
};

/* SOUK_OK when vendor_id is a vendor profile with at least one category;
 * SOUK_NOT_FOUND otherwise (no such profile, or not a specialist). */
int specialist_check(struct db_conn *c, const char *vendor_id, struct souk_errinfo *ei);
/* The specialist profile of a user: SOUK_OK with vendor_id, SOUK_FORBIDDEN when
 * the user has no vendor profile with a category. */
int specialist_of_user(struct db_conn *c, const char *user_id, char vendor_id[37],
                       struct souk_errinfo *ei);
/* The owning vendor profile of a live (not deleted) project; SOUK_NOT_FOUND
 * otherwise. Hidden projects are found (the caller decides visibility). */
int project_owner(struct db_conn *c, const char *project_id, char vendor_id[37],
                  struct souk_errinfo *ei);
/* Adds one to the day's counter of `kind` for the specialist and, when
 * project_id is not NULL, for that project too (at_us picks the UTC day). */
int specialist_stat_add(struct db_conn *c, const char *vendor_id, const char *project_id,
                        enum specialist_stat kind, int64_t at_us, struct souk_errinfo *ei);
/* Visible-review totals (rating_avg = rating_sum / review_count) and the
 * number of completed requests, as recomputed by the requests domain. */
int specialist_set_review_totals(struct db_conn *c, const char *vendor_id, int64_t rating_sum,
                                 int64_t review_count, struct souk_errinfo *ei);
int specialist_set_completed_requests(struct db_conn *c, const char *vendor_id,
                                      int64_t completed, struct souk_errinfo *ei);
/* End of the unbroken paid coverage (microseconds; 0: none), as computed by
 * the promotions domain: PRO for a specialist, TOP or DETAILED for a project.
 * Readers derive is_pro / is_top / is_detailed as `until > now`. */
int specialist_set_pro_until(struct db_conn *c, const char *vendor_id, int64_t until_us,
                             struct souk_errinfo *ei);
int project_set_coverage(struct db_conn *c, const char *project_id, const char *product,
                         int64_t until_us, struct souk_errinfo *ei);

/* ---- additions ------------------------------------------------------------
 * Categories of a vendor profile (API.md § Home services): at most
 * SPECIALIST_CATEGORIES_MAX slugs [a-z0-9-]{1,SPECIALIST_SLUG_MAX}. */
#define SPECIALIST_CATEGORIES_MAX 10
#define SPECIALIST_SLUG_MAX 50
/* 1 when every element of the array is a slug as above. */
int specialist_slugs_valid(const json_t *arr);
/* Replaces the profile's categories (vendors domain, inside its
 * transaction): the JSON column, is_specialist and the filter rows. */
int specialist_set_categories(struct db_conn *c, const char *vendor_id, const json_t *arr,
                              struct souk_errinfo *ei);

#endif
