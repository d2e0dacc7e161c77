/* fuzz_money.c - money_parse and money_format.
 *
 * Invariants: a parsed amount is within +-MONEY_MAX (and not negative
 * unless allowed); formatting it and parsing the text gives the same
 * amount, and that text is a fixed point (format(parse(t)) == t).
 * The first 8 bytes also go through format -> parse as an int64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/money.h"

static void check_amount(int64_t v)
{
    char txt[MONEY_STR_LEN], again[MONEY_STR_LEN];
    int64_t back;

    money_format(v, txt);
    if (money_parse(txt, 1, &back) != 0 || back != v)
        abort();
    money_format(back, again);
    if (strcmp(txt, again) != 0)
        abort();
}

static void check_text(const char *s, int allow_negative)
{
    int64_t v;

    if (money_parse(s, allow_negative, &v) != 0)
        return;
    if (v > MONEY_MAX || v < -MONEY_MAX || (!allow_negative && v < 0))
        abort();
    check_amount(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int64_t v;

    memcpy(s, data, size);
    s[size] = '\0';
    check_text(s, 0);
    check_text(s, 1);
    free(s);
    if (size >= sizeof v) {
        memcpy(&v, data, sizeof v);
        if (v >= -MONEY_MAX && v <= MONEY_MAX)
            check_amount(v);
    }
    return 0;
}
