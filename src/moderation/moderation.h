/* moderation.h - reports, hiding and bans (API.md § Listings, messaging and
 * moderation: /api/reports/, /api/moderation/...).
 *
 * Content kinds are an inversion, like payment purposes: each domain whose
 * content can be reported registers a `struct moderation_kind` at init
 * (lookup: does it exist, may this caller see it, who wrote it; set_hidden:
 * the domain's own hidden mark). Moderation never reads another domain's
 * tables; it owns reports and user_bans.
 *
 * A ban makes every write of the user under /api/ answer 403 `banned` (the
 * write guard in moderation_http.c asks moderation_ban_active on each
 * authenticated write, so it holds on every node at once); reads, login,
 * refresh, logout and erasure still work, and a ban ends by itself at
 * banned_until.
 *
 * Thread safety: the kind registry is filled before serving and read-only
 * afterwards; everything else runs in the caller's transaction.
 */
#ifndef SOUK_MODERATION_H
#define SOUK_MODERATION_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct arena;
struct keyset;
struct router;
struct audit_actor;

#define MODERATION_KINDS_MAX 8
#define MODERATION_REASON_MAX 2000

struct moderation_kind {
    const char *type; /* "listing", "message", "user", "review", "project", "recipe" */
    /* SOUK_OK with the author's user id and whether it is hidden now, when
     * `id` exists and the viewer (user id; staff: 1 when MODERATOR/ADMIN) may
     * see it; SOUK_NOT_FOUND else. */
    int (*lookup)(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                  char author[37], int *hidden, struct souk_errinfo *ei);
    /* The domain's hidden mark (1 hide, 0 show); NULL: cannot be hidden. */
    int (*set_hidden)(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei);
};
/* Registers a kind (the struct must outlive the process; before serving). */
void moderation_register_kind(const struct moderation_kind *k);
const struct moderation_kind *moderation_kind(const char *type);

int moderation_init(struct db *db, struct souk_errinfo *ei);

/* ---- bans ---------------------------------------------------------------- */
struct ban {
    char user_id[37];
    int64_t banned_until; /* 0: permanent */
    char reason[MODERATION_REASON_MAX * 4 + 1];
};
/* 1 (and *out) while the user is banned, 0 when not, < 0 on a database error. */
int moderation_ban_active(struct db *db, const char *user_id, struct ban *out);
/* Bans (or re-bans) a user: SOUK_FORBIDDEN for staff, SOUK_NOT_FOUND for no
 * such user. until 0: permanent. Audited as user.ban, notifies user.banned. */
int moderation_ban_tx(struct db_conn *c, const struct audit_actor *actor, const char *user_id,
                      int64_t until, const char *reason, struct ban *out,
                      struct souk_errinfo *ei);
int moderation_ban(struct db *db, const struct audit_actor *actor, const char *user_id,
                   int64_t until, const char *reason, struct ban *out, struct souk_errinfo *ei);
int moderation_unban(struct db *db, const struct audit_actor *actor, const char *user_id,
                     struct ban *out, struct souk_errinfo *ei);
json_t *moderation_ban_json(const struct ban *b);

/* ---- reports ------------------------------------------------------------- */
struct report_in {
    const char *target_type;
    char target_id[37];
    const char *reason;
};
/* The reporter (user id, staff flag) reports a target it can see; a target
 * that does not exist or that it cannot see: SOUK_INVALID on target_id; a
 * second open report on the same target: SOUK_CONFLICT. *out: new ref. */
int moderation_report(struct db *db, const char *reporter_id, int staff,
                      const struct report_in *in, json_t **out, struct souk_errinfo *ei);

struct report_filter {
    const char *status;      /* "open" (default) | "resolved" */
    const char *target_type; /* NULL: any */
};
/* Oldest first. *out: JSON array (new ref); keys/ids for keyset_envelope. */
int moderation_reports_list(struct db *db, const struct report_filter *f,
                            const struct keyset *ks, struct arena *a, json_t **out,
                            int64_t **keys, const char ***ids, struct souk_errinfo *ei);

struct resolve_in {
    const char *action; /* "dismiss" | "hide_content" | "ban_user" */
    const char *note;
    int64_t until;      /* ban_user only; 0: permanent */
};
/* Resolves a report and every other open report on its target. */
int moderation_resolve(struct db *db, const struct audit_actor *actor, const char *report_id,
                       const struct resolve_in *in, json_t **out, struct souk_errinfo *ei);

/* Staff hide / unhide of any kind but `user`. */
int moderation_hide(struct db *db, const struct audit_actor *actor, const char *type,
                    const char *id, int hidden, const char *note, struct souk_errinfo *ei);

/* /api/reports/, /api/moderation/... */
void moderation_http_register(struct router *r);

#endif
