/* requests.h - requests from clients to specialists and the verified
 * reviews that follow them (API.md § Home services: /api/requests/...,
 * /api/reviews/{id}/reply/, /api/specialists/{id}/reviews/).
 *
 * A request moves new -> accepted | declined | cancelled and accepted ->
 * cancelled | completed (both parties finished). Each move is one
 * conditional UPDATE, so two callers racing on the same request cannot both
 * win. A review exists only for a completed request, one per request; the
 * specialist's visible-review totals and completed-request count are pushed
 * to the showcase (src/projects/specialists.h) in the same transaction.
 *
 * Thread safety: no shared state; everything runs on the caller's
 * connection or in its own transaction.
 */
#ifndef SOUK_REQUESTS_H
#define SOUK_REQUESTS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct keyset;
struct router;

#define REQUEST_TEXT_MAX 5000

struct review {
    char id[37];
    char request_id[37];
    char specialist_id[37];
    char author_id[37];
    const char *author_name; /* "Anna K." */
    int rating;
    const char *text;
    const char *reply_text;  /* NULL: no reply */
    int64_t reply_at;
    int64_t hidden_at;       /* 0: visible */
    int64_t created_at;
    char specialist_user_id[37];
};

struct request {
    char id[37];
    char client_id[37];
    const char *client_name;
    char specialist_id[37];
    char specialist_user_id[37];
    const char *specialist_name;
    char project_id[37]; /* "" when none */
    const char *message;
    int64_t budget;      /* -1: none */
    char currency[4];
    char status[16];
    int64_t client_finished_at, specialist_finished_at, completed_at; /* 0: null */
    int64_t created_at, updated_at;
    struct review *review; /* NULL until written */
};

struct request_in {
    char specialist_id[37];
    char project_id[37]; /* "" when none */
    const char *message;
    int64_t budget;      /* -1: none */
    const char *currency;
};

enum request_action { REQUEST_ACCEPT, REQUEST_DECLINE, REQUEST_CANCEL, REQUEST_FINISH };

/* List filters: status NULL for any; as "client", "specialist" or NULL (both). */
struct request_filter {
    const char *user_id;
    const char *status;
    const char *as;
};

int requests_create(struct db *db, const char *client_id, const struct request_in *in,
                    struct arena *a, struct request *out, struct souk_errinfo *ei);
/* Any request by id (the caller applies the visibility policy). */
int requests_get(struct db *db, const char *id, struct arena *a, struct request *out,
                 struct souk_errinfo *ei);
int requests_list(struct db *db, const struct request_filter *f, const struct keyset *ks,
                  struct arena *a, struct request **out, int *n, struct souk_errinfo *ei);
/* Applies `act` for `actor_user_id` (already known to be the right party);
 * SOUK_PRECONDITION (invalid_state) when the status forbids it. *out is the
 * request after the action. */
int requests_act(struct db *db, const char *id, enum request_action act,
                 const char *actor_user_id, struct arena *a, struct request *out,
                 struct souk_errinfo *ei);

/* ---- reviews (reviews.c) ----------------------------------------------- */
int reviews_create(struct db *db, const struct request *r, int rating, const char *text,
                   struct arena *a, struct review *out, struct souk_errinfo *ei);
/* Any review by id, hidden ones too. */
int reviews_get(struct db *db, const char *id, struct arena *a, struct review *out,
                struct souk_errinfo *ei);
/* SOUK_CONFLICT when it already has a reply. */
int reviews_reply(struct db *db, const char *id, const char *text, struct arena *a,
                  struct review *out, struct souk_errinfo *ei);
/* A specialist's visible reviews, newest first; rating 0: any. */
int reviews_list(struct db *db, const char *specialist_id, int rating, const struct keyset *ks,
                 struct arena *a, struct review **out, int *n, struct souk_errinfo *ei);
/* Moderation: hides or shows a review, in the caller's transaction, and
 * pushes the specialist's new visible totals. SOUK_NOT_FOUND when none. */
int reviews_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei);
/* Registers the moderation kind "review" (at init, before serving). */
void reviews_moderation_register(void);
/* Inside a transaction: the review of a request into *out (arena), or
 * *out = NULL. */
int reviews_of_request(struct db_conn *c, const char *request_id, struct arena *a,
                       struct review **out, struct souk_errinfo *ei);

/* "Anna K." from first and last name (arena). */
const char *requests_person_name(struct arena *a, const char *first, const char *last);

json_t *requests_to_json(const struct request *r);
json_t *reviews_to_json(const struct review *w);

void requests_http_register(struct router *r);
/* The export and erasure parts "requests" and "reviews" (erase.c; userdata.h). */
void requests_userdata_register(void);

#endif
