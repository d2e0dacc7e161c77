/* mail.h - templated e-mail (plain text + HTML) sent by a job: through SMTP
 * with libcurl when SOUK_SMTP_URL is set (STARTTLS, auth), otherwise
 * written as .eml files under <data_dir>/mail/. */
#ifndef SOUK_MAIL_H
#define SOUK_MAIL_H

#include <jansson.h>
#include "core/err.h"

struct db_conn;

/* Inside a transaction: queue the e-mail `template` (a name known to
 * mail.c, e.g. "welcome", "order_invoice") to `to`, rendered with vars
 * (borrowed). unique_key (may be NULL) makes it send-once. */
int mail_enqueue(struct db_conn *tx, const char *to, const char *template_name,
                 const json_t *vars, const char *unique_key, struct souk_errinfo *ei);
/* Registers the mail job kind ("mail.send") and initialises libcurl
 * (call from the main thread before jobs_start). */
void mail_init(void);

/* ---- additions (mail.c) ----------------------------------------------
 * Renders a template string: each {{name}} becomes vars.name (strings
 * as they are, numbers and booleans as JSON, missing or null as ""),
 * HTML-escaped when html is set. malloc'd; caller frees. */
char *mail_render(const char *tmpl, const json_t *vars, int html);
/* 1 when `template_name` is a known template. */
int mail_template_exists(const char *template_name);

#endif
