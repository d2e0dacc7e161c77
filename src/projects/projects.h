/* projects.h - the home-services showcase (API.md § Home services):
 * specialists (vendor profiles with categories), portfolio projects with
 * media, favorites, profile and project views, daily statistics.
 *
 * Owns the tables of migration 0014: projects, project_tags, project_media,
 * vendor_categories, favorites, views_daily, stats_daily and the showcase
 * columns of vendor_profiles. What other domains may call is in
 * specialists.h, plus projects_set_hidden() below (moderation).
 * Functions taking a struct db_conn run inside the caller's transaction.
 */
#ifndef SOUK_PROJECTS_H
#define SOUK_PROJECTS_H

#include "core/err.h"

struct db_conn;
struct router;

/* Hides (hidden != 0) or shows a live project: a hidden project leaves every
 * public list, search and count; its detail is 404 except to its owner and
 * staff. SOUK_NOT_FOUND for a missing or deleted project. */
int projects_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei);

#endif
