/* markdown.c - admin_markdown_html (markdown.h): libcmark, safe mode.
 *
 * Serves the blog preview of API.md § "Admin console". CMARK_OPT_SAFE is
 * the default since cmark 0.29 and CMARK_OPT_UNSAFE is never set; both
 * are named so that the intent survives a library change.
 */
#include <cmark.h>
#include <stdlib.h>
#include <string.h>

#include "admin/markdown.h"
#include "core/arena.h"

char *admin_markdown_html(const char *md, size_t len)
{
    int opts = CMARK_OPT_SAFE | CMARK_OPT_SMART | CMARK_OPT_VALIDATE_UTF8;
    char *html = cmark_markdown_to_html(md ? md : "", md ? len : 0, opts & ~CMARK_OPT_UNSAFE);
    if (!html) {
        html = malloc(1);
        if (!html)
            abort();
        html[0] = 0;
    }
    return html;
}
