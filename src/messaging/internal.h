/* internal.h - what messaging.c and messages.c share (not for other domains). */
#ifndef SOUK_MESSAGING_INTERNAL_H
#define SOUK_MESSAGING_INTERNAL_H

#include "messaging/messaging.h"

int thread_load(struct db_conn *c, const char *user_id, const char *thread_id, struct arena *a,
                struct thread *out, struct souk_errinfo *ei);
/* Inserts the message, moves the thread's last message, shows the thread
 * again to whoever hid it and tells the other participant (message.created). */
int message_post_tx(struct db_conn *c, const char *user_id, const char *thread_id,
                    const char *body, struct arena *a, struct message *out,
                    struct souk_errinfo *ei);
/* A page of the thread's messages in ks order (no participant check). */
int messages_page(struct db_conn *c, const char *thread_id, const struct keyset *ks,
                  struct arena *a, struct message **out, int *n, struct souk_errinfo *ei);

/* The moderation kind "message" (messages.c), registered by messaging_init. */
struct moderation_kind;
extern const struct moderation_kind messages_moderation_kind;

#endif
