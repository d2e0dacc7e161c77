/* tmpl.c - the template engine of tmpl.h (a Mustache subset whose only way
 * to insert a value escapes it).
 *
 * Serves the admin console (API.md § "Admin console"). Templates come from
 * the asset table embedded at build time (build/gen/admin_assets.c). No
 * shared mutable state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/tmpl.h"
#include "core/arena.h"

struct asset {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct asset souk_admin_assets[];

#define TMPL_DEPTH 16

struct render {
    struct tmpl_buf out;
    const json_t *stack[TMPL_DEPTH * 2];
    int depth;
    int nest; /* includes and sections, bounded */
    const struct tmpl_frag *frags;
};

const char *tmpl_asset(const char *name, size_t *len)
{
    for (const struct asset *a = souk_admin_assets; a->name; a++)
        if (strcmp(a->name, name) == 0) {
            if (len)
                *len = a->len;
            return a->data;
        }
    return NULL;
}

void tmpl_buf_put(struct tmpl_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 1024;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void tmpl_buf_escape(struct tmpl_buf *b, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        case '`': e = "&#96;"; break;
        default: break;
        }
        if (e)
            tmpl_buf_put(b, e, strlen(e));
        else
            tmpl_buf_put(b, s, 1);
    }
}

/* Looks up a dotted name from the innermost context outwards. */
static const json_t *lookup(const struct render *r, const char *name, size_t n)
{
    char key[128];
    if (n == 1 && name[0] == '.')
        return r->depth ? r->stack[r->depth - 1] : NULL;
    if (n >= sizeof key)
        return NULL;
    memcpy(key, name, n);
    key[n] = 0;
    char *dot = strchr(key, '.');
    if (dot)
        *dot = 0;
    for (int i = r->depth - 1; i >= 0; i--) {
        const json_t *v = json_is_object(r->stack[i]) ? json_object_get(r->stack[i], key) : NULL;
        if (!v)
            continue;
        for (char *p = dot ? dot + 1 : NULL; p && v;) {
            char *next = strchr(p, '.');
            if (next)
                *next = 0;
            v = json_is_object(v) ? json_object_get(v, p) : NULL;
            p = next ? next + 1 : NULL;
        }
        return v;
    }
    return NULL;
}

static int truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    return 1;
}

static void put_value(struct render *r, const json_t *v)
{
    char num[64];
    if (json_is_string(v))
        tmpl_buf_escape(&r->out, json_string_value(v));
    else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        tmpl_buf_put(&r->out, num, strlen(num));
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%g", json_real_value(v));
        tmpl_buf_put(&r->out, num, strlen(num));
    } else if (json_is_boolean(v))
        tmpl_buf_escape(&r->out, json_is_true(v) ? "true" : "false");
}

static void put_frag(struct render *r, const char *name, size_t n)
{
    for (const struct tmpl_frag *f = r->frags; f && f->name; f++)
        if (strlen(f->name) == n && memcmp(f->name, name, n) == 0 && f->html) {
            tmpl_buf_put(&r->out, f->html, strlen(f->html));
            return;
        }
}

static void render_span(struct render *r, const char *s, const char *end);

/* Finds the {{/name}} closing the section opened just before p, with nesting. */
static const char *find_close(const char *p, const char *end, const char *name, size_t n,
                              const char **after)
{
    int level = 1;
    while (p < end) {
        const char *t = strstr(p, "{{");
        if (!t || t >= end)
            return NULL;
        const char *c = strstr(t + 2, "}}");
        if (!c || c > end)
            return NULL;
        if ((t[2] == '#' || t[2] == '^') && (size_t)(c - t - 3) == n && !memcmp(t + 3, name, n))
            level++;
        else if (t[2] == '/' && (size_t)(c - t - 3) == n && !memcmp(t + 3, name, n) &&
                 --level == 0) {
            *after = c + 2;
            return t;
        }
        p = c + 2;
    }
    return NULL;
}

static void push_render(struct render *r, const json_t *ctx, const char *s, const char *e)
{
    if (r->depth >= (int)(sizeof r->stack / sizeof r->stack[0]))
        return;
    r->stack[r->depth++] = ctx;
    render_span(r, s, e);
    r->depth--;
}

static void render_section(struct render *r, const json_t *v, int inverted, const char *s,
                           const char *e)
{
    if (inverted) {
        if (!truthy(v))
            render_span(r, s, e);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            push_render(r, json_array_get(v, i), s, e);
    } else if (json_is_object(v)) {
        push_render(r, v, s, e);
    } else if (truthy(v)) {
        render_span(r, s, e);
    }
}

static void render_include(struct render *r, const char *name, size_t n)
{
    char key[128];
    size_t len;
    if (n >= sizeof key || r->nest > TMPL_DEPTH)
        return;
    memcpy(key, name, n);
    key[n] = 0;
    const char *t = tmpl_asset(key, &len);
    if (t) {
        r->nest++;
        render_span(r, t, t + len);
        r->nest--;
    }
}

/* Renders [s, end): text is copied, tags are interpreted. */
static void render_span(struct render *r, const char *s, const char *end)
{
    while (s < end) {
        const char *t = strstr(s, "{{");
        if (!t || t >= end) {
            tmpl_buf_put(&r->out, s, (size_t)(end - s));
            return;
        }
        tmpl_buf_put(&r->out, s, (size_t)(t - s));
        const char *c = strstr(t + 2, "}}");
        if (!c || c > end)
            return; /* unterminated tag: stop (templates are ours; tests catch it) */
        const char *name = t + 2;
        char kind = *name;
        if (kind == '#' || kind == '^' || kind == '>' || kind == '&' || kind == '/')
            name++;
        size_t n = (size_t)(c - name);
        s = c + 2;
        if (kind == '#' || kind == '^') {
            const char *after, *close = find_close(s, end, name, n, &after);
            if (!close)
                return;
            if (r->nest <= TMPL_DEPTH * 4) {
                r->nest++;
                render_section(r, lookup(r, name, n), kind == '^', s, close);
                r->nest--;
            }
            s = after;
        } else if (kind == '>')
            render_include(r, name, n);
        else if (kind == '&')
            put_frag(r, name, n);
        else if (kind != '/')
            put_value(r, lookup(r, name, n));
    }
}

char *tmpl_render_text(const char *text, const json_t *ctx, const struct tmpl_frag *frags)
{
    struct render r = {.frags = frags};
    r.stack[r.depth++] = ctx;
    tmpl_buf_put(&r.out, "", 0);
    render_span(&r, text, text + strlen(text));
    return r.out.s;
}

char *tmpl_render(const char *name, const json_t *ctx, const struct tmpl_frag *frags)
{
    const char *t = tmpl_asset(name, NULL);
    return t ? tmpl_render_text(t, ctx, frags) : NULL;
}
