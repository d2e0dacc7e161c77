/* unit.h - common includes for the C unit tests (cmocka).
 * Each tests/unit/test_<thing>.c is one binary with its own main(). */
#ifndef SOUK_UNIT_H
#define SOUK_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>

/* PostgreSQL URL for tests that also run there (set by tests/run_all.sh when
 * a throwaway cluster is up); NULL -> those cases are skipped. */
static inline const char *unit_pg_url(void)
{
    const char *u = getenv("SOUK_TEST_PG_URL");
    return (u && *u) ? u : NULL;
}

#endif
