/* money.c - decimal strings <-> int64 minor units, never through a double. */
#include <stdio.h>
#include <string.h>

#include "core/money.h"

int money_parse(const char *s, int allow_negative, int64_t *out)
{
    int64_t units = 0, cents = 0;
    int neg = 0, nint = 0, nfrac = 0;

    if (!s || !*s)
        return -1;
    if (*s == '-') {
        if (!allow_negative)
            return -1;
        neg = 1;
        s++;
    }
    for (; *s >= '0' && *s <= '9'; s++, nint++) {
        if (nint >= 12)
            return -1; /* more than MONEY_MAX allows */
        units = units * 10 + (*s - '0');
    }
    if (nint == 0)
        return -1;
    if (*s == '.') {
        s++;
        for (; *s >= '0' && *s <= '9'; s++, nfrac++) {
            if (nfrac >= 2)
                return -1;
            cents = cents * 10 + (*s - '0');
        }
        if (nfrac == 0)
            return -1;
        if (nfrac == 1)
            cents *= 10;
    }
    if (*s)
        return -1;
    *out = units * 100 + cents;
    if (*out > MONEY_MAX)
        return -1;
    if (neg)
        *out = -*out;
    return 0;
}

void money_format(int64_t minor, char out[MONEY_STR_LEN])
{
    uint64_t a = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    snprintf(out, MONEY_STR_LEN, "%s%llu.%02llu", minor < 0 ? "-" : "",
             (unsigned long long)(a / 100), (unsigned long long)(a % 100));
}

int money_from_json(const json_t *v, int allow_negative, int64_t *out)
{
    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v))
            return -1; /* embedded NUL */
        return money_parse(json_string_value(v), allow_negative, out);
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if ((!allow_negative && i < 0) || i > MONEY_MAX / 100 || i < -(MONEY_MAX / 100))
            return -1;
        *out = (int64_t)i * 100;
        return 0;
    }
    return -1; /* reals, booleans, null, objects: refused */
}

json_t *money_to_json(int64_t minor)
{
    char buf[MONEY_STR_LEN];
    money_format(minor, buf);
    return json_string(buf);
}

int currency_valid(const char *s)
{
    if (!s || strlen(s) != 3)
        return 0;
    for (int i = 0; i < 3; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return 0;
    return 1;
}
