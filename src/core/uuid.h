/* uuid.h - UUIDv7 (time-ordered) identifiers as 36-char lower-case text. */
#ifndef SOUK_UUID_H
#define SOUK_UUID_H

#include <stdint.h>

#define UUID_STR_LEN 37

void uuid_v7(char out[UUID_STR_LEN]);
void uuid_v7_at(int64_t unix_ms, char out[UUID_STR_LEN]); /* for tests */
/* 1 when s is a canonical 8-4-4-4-12 hex UUID (either case), else 0. */
int uuid_valid(const char *s);
/* Lower-cases a valid UUID into out. 0 ok, -1 invalid. */
int uuid_normalize(const char *s, char out[UUID_STR_LEN]);

#endif
