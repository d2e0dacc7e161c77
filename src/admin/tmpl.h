/* tmpl.h - the admin console's template engine: HTML-escaped by construction.
 *
 * A template is a text embedded at build time (src/admin/templates/ *.html,
 * see scripts/embed.sh assets). Tags, over a JSON context:
 *   {{name}} {{a.b}} {{.}}  the value, ALWAYS HTML-escaped (& < > " ' `)
 *   {{#name}}...{{/name}}   an array: once per element (the element becomes
 *                           the context); an object: once inside it; true, a
 *                           non-empty string or a non-zero number: once
 *   {{^name}}...{{/name}}   once when name is absent, null, false, "", 0, []
 *   {{>other}}              another embedded template, same context
 *   {{&frag}}               a trusted fragment passed by C code (a rendered
 *                           template, sanitised Markdown) - looked up ONLY in
 *                           the fragment list, never in the data, so stored
 *                           data can never reach the page unescaped.
 * Lookups climb the context stack, as in Mustache. There is no other way to
 * write a value.
 *
 * Thread safety: the embedded templates are immutable; a render owns its
 * buffer.
 */
#ifndef SOUK_ADMIN_TMPL_H
#define SOUK_ADMIN_TMPL_H

#include <stddef.h>
#include <jansson.h>

struct tmpl_frag {
    const char *name;
    const char *html; /* trusted */
};

/* An embedded asset by name ("layout.html", "admin.css"); NULL if none. */
const char *tmpl_asset(const char *name, size_t *len);

/* Renders template `name` with `ctx`; returns a malloc'd NUL-terminated
 * string (caller frees) or NULL when the template is missing. frags is
 * terminated by a {NULL, NULL} entry (or NULL). */
char *tmpl_render(const char *name, const json_t *ctx, const struct tmpl_frag *frags);
/* Same, from a template text (unit tests). */
char *tmpl_render_text(const char *text, const json_t *ctx, const struct tmpl_frag *frags);

/* Appends the HTML-escaped s to a malloc'd buffer (for C-built fragments). */
struct tmpl_buf {
    char *s;
    size_t len, cap;
};
void tmpl_buf_put(struct tmpl_buf *b, const char *s, size_t n);
void tmpl_buf_escape(struct tmpl_buf *b, const char *s);

#endif
