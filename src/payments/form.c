/* form.c - application/x-www-form-urlencoded with Stripe's bracket notation.
 *
 * Encoding (what the client sends): `metadata[order_id]=42`,
 * `line_items[0][price_data][currency]=eur`; keys and values are
 * percent-encoded except for unreserved characters, and brackets in keys
 * are kept raw (stripe-node's layout). Decoding (what the sandbox reads):
 * '+' is a space, %XX a byte; keys stay flat strings and are looked up
 * whole, with helpers for `prefix[k]` maps.
 *
 * An encoder is owned by one thread; decoding allocates from an arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "payments/internal.h"
#include "core/str.h"

void form_init(struct form *f)
{
    f->cap = 256;
    f->len = 0;
    f->buf = xmalloc(f->cap);
    f->buf[0] = 0;
}

void form_cleanup(struct form *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = f->cap = 0;
}

static void reserve(struct form *f, size_t more)
{
    if (f->len + more + 1 <= f->cap)
        return;
    while (f->len + more + 1 > f->cap)
        f->cap *= 2;
    f->buf = xrealloc(f->buf, f->cap);
}

static int unreserved(unsigned char c, int in_key)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    if (c == '-' || c == '_' || c == '.' || c == '~')
        return 1;
    return in_key && (c == '[' || c == ']');
}

static void put_encoded(struct form *f, const char *s, int in_key)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);

    reserve(f, 3 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c, in_key)) {
            f->buf[f->len++] = (char)c;
        } else {
            f->buf[f->len++] = '%';
            f->buf[f->len++] = hex[c >> 4];
            f->buf[f->len++] = hex[c & 15];
        }
    }
    f->buf[f->len] = 0;
}

void form_add(struct form *f, const char *key, const char *value)
{
    if (!value)
        return;
    if (f->len) {
        reserve(f, 1);
        f->buf[f->len++] = '&';
    }
    put_encoded(f, key, 1);
    reserve(f, 1);
    f->buf[f->len++] = '=';
    f->buf[f->len] = 0;
    put_encoded(f, value, 0);
}

void form_add_int(struct form *f, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    form_add(f, key, num);
}

void form_add_bool(struct form *f, const char *key, int v)
{
    form_add(f, key, v ? "true" : "false");
}

/* Adds every string member of obj as `prefix[key]=value`. */
void form_add_map(struct form *f, const char *prefix, const json_t *obj)
{
    const char *k;
    json_t *v;
    char key[256];

    if (!json_is_object(obj))
        return;
    json_object_foreach((json_t *)obj, k, v) {
        if (!json_is_string(v))
            continue;
        snprintf(key, sizeof key, "%s[%s]", prefix, k);
        form_add(f, key, json_string_value(v));
    }
}

/* ---- decoding ------------------------------------------------------------ */

static char *decode(struct arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && str_hex_digit(s[i + 1]) >= 0 && str_hex_digit(s[i + 2]) >= 0) {
            out[j++] = (char)(str_hex_digit(s[i + 1]) << 4 | str_hex_digit(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

int form_parse(struct arena *a, const char *body, size_t len, struct form_kv **out)
{
    int n = 0, cap = 16;
    struct form_kv *kv = arena_alloc(a, sizeof *kv * (size_t)cap);
    size_t i = 0;

    while (i < len) {
        size_t j = i, eq;
        while (j < len && body[j] != '&')
            j++;
        for (eq = i; eq < j && body[eq] != '='; eq++)
            ;
        if (j > i) {
            if (n == cap) {
                struct form_kv *bigger = arena_alloc(a, sizeof *kv * (size_t)cap * 2);
                memcpy(bigger, kv, sizeof *kv * (size_t)cap);
                kv = bigger;
                cap *= 2;
            }
            kv[n].key = decode(a, body + i, eq - i);
            kv[n].value = eq < j ? decode(a, body + eq + 1, j - eq - 1) : arena_strdup(a, "");
            n++;
        }
        i = j + 1;
    }
    *out = kv;
    return n;
}

const char *form_get(const struct form_kv *kv, int n, const char *key)
{
    for (int i = n - 1; i >= 0; i--) /* the last one wins */
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

json_t *form_get_map(const struct form_kv *kv, int n, const char *prefix)
{
    json_t *obj = json_object();
    size_t pl = strlen(prefix);

    for (int i = 0; i < n; i++) {
        const char *k = kv[i].key;
        size_t kl = strlen(k);
        if (kl > pl + 2 && strncmp(k, prefix, pl) == 0 && k[pl] == '[' && k[kl - 1] == ']' &&
            !memchr(k + pl + 1, '[', kl - pl - 2)) {
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(kl - pl - 2), k + pl + 1);
            if (kv[i].value[0])
                json_object_set_new(obj, name, json_string(kv[i].value));
            else
                json_object_del(obj, name); /* an empty value unsets */
        }
    }
    return obj;
}
