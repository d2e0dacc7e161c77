/* money.h - money is int64 minor units inside, a string with exactly two
 * decimals outside ("29.99" <-> 2999). No floating point near money. */
#ifndef SOUK_MONEY_H
#define SOUK_MONEY_H

#include <stdint.h>
#include <jansson.h>

#define MONEY_STR_LEN 32
#define MONEY_MAX INT64_C(99999999999999) /* 999,999,999,999.99 */

/* Parses "29.99", "30", "30.5" (at most two decimals, no sign unless
 * allow_negative, no exponent, no spaces) into minor units. 0 ok, -1 bad. */
int money_parse(const char *s, int allow_negative, int64_t *out);
/* 2999 -> "29.99", -5 -> "-0.05" */
void money_format(int64_t minor, char out[MONEY_STR_LEN]);
/* A JSON money value: a string as above, or an integer (whole units).
 * A real (float) is refused: 0 ok, -1 bad. */
int money_from_json(const json_t *v, int allow_negative, int64_t *out);
json_t *money_to_json(int64_t minor); /* new string reference */
/* Lower-case ISO 4217 currency: three letters a-z. 1 valid. */
int currency_valid(const char *s);

#endif
