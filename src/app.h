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
 * limiter, notification fan-out, payment purposes, ...) without the job
 * workers. 0 ok. */
int app_init_modules(struct db *db, struct souk_errinfo *ei);
/* app_init_modules, then the job workers (SOUK_JOB_WORKERS). */
int app_init(struct db *db, struct souk_errinfo *ei);
/* Stops job workers (letting running jobs finish), then the modules. */
void app_shutdown(void);

#endif
