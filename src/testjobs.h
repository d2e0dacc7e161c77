/* testjobs.h - job kinds that exist only for tests (testjobs.c). */
#ifndef SOUK_TESTJOBS_H
#define SOUK_TESTJOBS_H

/* Registers test.record, test.sleep, test.fail, test.notify and test.mail
 * when SOUK_TEST_JOBS=1; returns 1 when test mode is on. Idempotent; call
 * from the main thread before the job workers start. */
int testjobs_init(void);

#endif
