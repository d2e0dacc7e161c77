/* messaging.h - private threads between two users, about a listing or
 * direct, and their messages (API.md § "Listings, messaging and
 * moderation").
 *
 * A thread has two participants; everything here is answered to them only:
 * anyone else, staff included, gets SOUK_NOT_FOUND. Each participant has a
 * read mark (unread_count counts the other's messages after it, deleted and
 * hidden ones excepted) and may hide the thread until a new message comes.
 * A deleted message keeps its row and shows as a placeholder; staff hide a
 * message with messages_set_hidden and read a whole thread, originals
 * included, with messaging_thread_moderation (moderation).
 * message.created / message.deleted go to the other participant through
 * notify() after commit; listing.updated to a listing's thread participants
 * when its status changes (a hook set on src/listings).
 *
 * Owns the tables threads, thread_participants and messages. The thread
 * list and a thread read users' names and a listing's title and status in
 * their one statement (the contract's one indexed read per list).
 *
 * Strings in returned structs are allocated from the arena passed in.
 * Thread-safe.
 */
#ifndef SOUK_MESSAGING_H
#define SOUK_MESSAGING_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct keyset;
struct router;

#define MESSAGE_BODY_MAX 5000

struct message {
    char id[37];
    char thread_id[37];
    char sender_id[37];
    const char *body;
    int64_t created_at;
    int64_t deleted_at; /* 0: not deleted */
    int64_t hidden_at;  /* 0: not hidden */
};

struct thread_party {
    char id[37];
    const char *name;
};

struct thread {
    char id[37];
    int has_listing;
    char listing_id[37];
    const char *listing_title;
    char listing_status[10];
    struct thread_party parties[2];
    int has_last;
    struct message last;
    int64_t unread_count;
    int64_t last_message_at;
    int64_t created_at;
};

/* Exactly one of listing_id / recipient_id. */
struct thread_open {
    const char *listing_id;
    const char *recipient_id;
    const char *body;
};

/* Opens (or reuses) the thread and posts the body. A listing that does not
 * exist or cannot be seen, one's own listing, an unknown recipient or
 * oneself: SOUK_INVALID on the field; a listing not active or reserved:
 * SOUK_PRECONDITION (invalid_state). */
int messaging_thread_open(struct db *db, const char *user_id, const struct thread_open *in,
                          struct arena *a, struct thread *out, struct souk_errinfo *ei);
/* The caller's threads not hidden by them, latest message first. */
int messaging_threads_list(struct db *db, const char *user_id, const struct keyset *ks,
                           struct arena *a, struct thread **out, int *n,
                           struct souk_errinfo *ei);
int messaging_thread_get(struct db *db, const char *user_id, const char *thread_id,
                         struct arena *a, struct thread *out, struct souk_errinfo *ei);
/* Hides the thread for the caller until a new message arrives. */
int messaging_thread_hide(struct db *db, const char *user_id, const char *thread_id,
                          struct souk_errinfo *ei);
/* Read mark: everything up to now is read for the caller. */
int messaging_thread_read(struct db *db, const char *user_id, const char *thread_id,
                          struct souk_errinfo *ei);
/* Newest first, ks->limit rows at most. */
int messaging_messages_list(struct db *db, const char *user_id, const char *thread_id,
                            const struct keyset *ks, struct arena *a, struct message **out,
                            int *n, struct souk_errinfo *ei);
int messaging_message_post(struct db *db, const char *user_id, const char *thread_id,
                           const char *body, struct arena *a, struct message *out,
                           struct souk_errinfo *ei);
/* Its sender only (another participant: SOUK_FORBIDDEN); again is a no-op. */
int messaging_message_delete(struct db *db, const char *user_id, const char *message_id,
                             struct souk_errinfo *ei);

/* ---- for moderation ---------------------------------------------------------
 * messages_set_hidden hides (1) or shows again (0) a message, in the
 * caller's transaction; SOUK_NOT_FOUND when there is none. *author_id (may be
 * NULL) gets its sender. messaging_thread_moderation reads any thread (no
 * participant check: the caller is staff) and a page of every message,
 * oldest first (ks->asc must be 1), with original bodies, and records the
 * view (audit "thread.view" by actor) in the same transaction. */
int messages_set_hidden(struct db_conn *tx, const char *id, int hidden, char author_id[37],
                        struct souk_errinfo *ei);
struct audit_actor;
int messaging_thread_moderation(struct db *db, const struct audit_actor *actor,
                                const char *thread_id, const struct keyset *ks, struct arena *a,
                                struct thread *thread, struct message **out, int *n,
                                struct souk_errinfo *ei);

/* ---- JSON -------------------------------------------------------------------- */
/* As participants see it: deleted and hidden messages are placeholders. */
json_t *messaging_message_to_json(const struct message *m);
/* Everything, for staff: body, deleted, deleted_at, is_hidden. */
json_t *messaging_message_to_json_full(const struct message *m);
json_t *messaging_thread_to_json(const struct thread *t);

int messaging_init(struct db *db, struct souk_errinfo *ei);
void messaging_http_register(struct router *r);
/* The export and erasure part "threads" (erase.c; userdata.h). */
void messaging_userdata_register(void);

#endif
