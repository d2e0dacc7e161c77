/* fuzz_json_body.c - the jv_* body validators over arbitrary JSON bytes.
 *
 * The bytes are parsed the way request bodies are (JSON_REJECT_DUPLICATES),
 * then every getter reads a few keys, first with the fields required, then
 * optional and nullable, the way handlers do. Invariants: jv_done answers
 * SOUK_OK or SOUK_INVALID, SOUK_OK only when no error was recorded; a field
 * without an error holds a value in the range asked for; strings returned
 * are NUL-terminated within their bounds. Leaks show up through ASan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"

static const char *const ROLES[] = {"CUSTOMER", "VENDOR", NULL};

static int field_ok(const struct souk_errinfo *ei, const char *key)
{
    return !ei->errors || !json_object_get(ei->errors, key);
}

static void check_ranges(const struct souk_errinfo *ei, const char *name, const char *role,
                         int64_t qty, int64_t price, int has_id, const char *id)
{
    if (name && field_ok(ei, "name") && (strlen(name) < 1 || strlen(name) > 100))
        abort();
    if (role && field_ok(ei, "role") && strcmp(role, "CUSTOMER") && strcmp(role, "VENDOR"))
        abort();
    if (field_ok(ei, "quantity") && (qty < 1 || qty > 1000))
        abort();
    if (field_ok(ei, "price") && (price < 0 || price > MONEY_MAX))
        abort();
    if (has_id && field_ok(ei, "id") && !uuid_valid(id))
        abort();
}

static void validate(const json_t *body, int flags)
{
    struct souk_errinfo ei = {0};
    struct jv v;
    char id[37] = "";
    int64_t at = 0;

    jv_begin(&v, body, &ei);
    const char *name = jv_str(&v, "name", flags, 1, 100, NULL);
    const char *role = jv_enum(&v, "role", flags, ROLES, "CUSTOMER");
    int64_t qty = jv_int(&v, "quantity", flags, 1, 1000, 1);
    int64_t price = jv_money(&v, "price", flags, 0, MONEY_MAX, 0);
    int has_id = jv_uuid(&v, "id", flags, id);
    jv_bool(&v, "active", flags, 0);
    jv_time(&v, "starts_at", flags, &at);
    jv_str_array(&v, "tags", flags, 10, 1, 30);
    jv_has(&v, "extra");
    if (jv_has(&v, "a") && jv_has(&v, "b"))
        jv_error(&v, "b", "cannot be given with a");
    check_ranges(&ei, name, role, qty, price, has_id, id);

    int err = jv_done(&v);
    if (err != SOUK_OK && err != SOUK_INVALID)
        abort();
    if (err == SOUK_OK && ei.errors && json_object_size(ei.errors))
        abort();
    souk_errinfo_cleanup(&ei);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const char *key;
    json_t *val;
    int64_t minor;

    if (!body)
        return 0;
    validate(body, JV_REQUIRED);
    validate(body, JV_OPTIONAL | JV_NULLABLE);
    if (json_is_object(body))
        json_object_foreach(body, key, val)
            if (money_from_json(val, 1, &minor) == 0 && (minor > MONEY_MAX || minor < -MONEY_MAX))
                abort();
    json_decref(body);
    return 0;
}
