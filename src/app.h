/* app.h - wiring of the whole application: which modules start, in which
 * order, and which routes they serve. main.c calls these; tests may too. */
#ifndef SOUK_APP_H
#define SOUK_APP_H

#include "core/err.h"

struct router;
struct db;

/* Registers every route of every module. */
void app_register_routes(struct router *r);
/* Starts process-wide services that need the database (auth caches, rate
 * limiter, ...). 0 ok. */
int app_init(struct db *db, struct souk_errinfo *ei);
void app_shutdown(void);

#endif
