/* markdown.h - Markdown to HTML for blog previews in the admin console.
 *
 * libcmark in safe mode: raw HTML blocks and inline HTML become comments
 * ("<!-- raw HTML omitted -->") and javascript:, vbscript:, file: and most
 * data: URLs in links and images are dropped. The result is a trusted
 * fragment for tmpl.h's {{&frag}}. Thread-safe (cmark keeps no state).
 */
#ifndef SOUK_ADMIN_MARKDOWN_H
#define SOUK_ADMIN_MARKDOWN_H

#include <stddef.h>

/* malloc'd HTML (caller frees); never NULL (aborts on out-of-memory). */
char *admin_markdown_html(const char *md, size_t len);

#endif
