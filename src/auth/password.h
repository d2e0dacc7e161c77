/* password.h - password hashing (Argon2id, libsodium crypto_pwhash_str)
 * and the password policy. Thread-safe; hashing is deliberately slow
 * (tens of milliseconds and souk_cfg->argon_memlimit bytes of memory):
 * never call it while holding a database connection or a lock. */
#ifndef SOUK_AUTH_PASSWORD_H
#define SOUK_AUTH_PASSWORD_H

#include <stddef.h>
#include "core/err.h"

#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define PASSWORD_MIN_LEN 10
#define PASSWORD_MAX_LEN 1024

/* Policy: PASSWORD_MIN_LEN..PASSWORD_MAX_LEN bytes, not all digits. Returns
 * NULL when acceptable, else a message for the client. */
const char *password_policy_check(const char *pw);
/* Hashes with souk_cfg's opslimit/memlimit. 0 ok, SOUK_INTERNAL when out of memory. */
int password_hash(const char *pw, char out[PASSWORD_HASH_MAX], struct souk_errinfo *ei);
/* 1 when pw matches hash. *needs_rehash (may be NULL) is set to 1 when it
 * matched but the hash was made with other parameters than today's. */
int password_verify(const char *hash, const char *pw, int *needs_rehash);
/* Spends the time of a verification without a user (login with an
 * unknown email), so that timing does not tell which emails exist. */
void password_verify_dummy(const char *pw);

#endif
