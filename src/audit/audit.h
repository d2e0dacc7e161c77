/* audit.h - the append-only audit trail (API.md § Listings, messaging and
 * moderation: GET /api/admin/audit/ and the paragraph on audit entries).
 *
 * audit_record() writes one entry inside the caller's transaction, so an
 * entry exists exactly when the action it records committed. Nothing in
 * souk updates or deletes entries (the tables' triggers refuse it).
 * Actions are stable dotted names: "user.update", "vendor.verify",
 * "content.hide", "report.resolve", "user.ban", "job.retry",
 * "thread.view", "user.erase", "order.refund", "payment.applied", ...
 *
 * Thread safety: pure functions over the caller's connection.
 */
#ifndef SOUK_AUDIT_H
#define SOUK_AUDIT_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct db;
struct db_conn;
struct arena;
struct keyset;
struct router;

/* Who acted: a user (id and role name), or nobody (the server or the payment
 * provider: user_id NULL). */
struct audit_actor {
    const char *user_id;
    const char *role; /* "ADMIN", ...; NULL or "" for the server */
};
#define AUDIT_SYSTEM ((const struct audit_actor *)0)

/* before/after: the changed fields (borrowed, may be NULL); note may be NULL. */
int audit_record(struct db_conn *c, const struct audit_actor *actor, const char *action,
                 const char *target_type, const char *target_id, const json_t *before,
                 const json_t *after, const char *note, struct souk_errinfo *ei);

struct audit_filter {
    const char *actor;       /* user id */
    const char *action;
    const char *target_type;
    const char *target_id;
    int64_t since, until;    /* microseconds; 0: open */
};
/* Newest first; fills *out (a JSON array of entries, new reference) with at
 * most ks->limit rows and keys/ids (arena) for keyset_envelope. */
int audit_list(struct db *db, const struct audit_filter *f, const struct keyset *ks,
               struct arena *a, json_t **out, int64_t **keys, const char ***ids,
               struct souk_errinfo *ei);

/* GET /api/admin/audit/ */
void audit_http_register(struct router *r);

#endif
