/* moderate.c - the hide and unhide actions of the console's content sections
 * (recipes, projects, listings, reviews): ADMIN and MODERATOR, through
 * moderation_hide, the function behind POST /api/moderation/hide/, so the
 * same lookup, hidden mark, owner notification (content.hidden) and audit
 * entry (content.hide / content.unhide) as the API. The form's `note`
 * (optional, at most 2000 characters) goes to the audit trail.
 *
 * Thread safety: none needed (per request).
 */
#include <string.h>

#include "admin/admin.h"
#include "moderation/moderation.h"

const char *admin_hidden_filter(struct admin_ctx *ax)
{
    const char *h = admin_arg(ax, "hidden");

    if (strcmp(h, "hidden") != 0 && strcmp(h, "visible") != 0)
        h = "";
    json_object_set_new(ax->page, "hidden", json_string(h));
    json_object_set_new(ax->page, "hidden_hidden", json_boolean(!strcmp(h, "hidden")));
    json_object_set_new(ax->page, "hidden_visible", json_boolean(!strcmp(h, "visible")));
    return h;
}

int admin_set_hidden_id(struct admin_ctx *ax, const char *kind, const char *id, int hidden,
                        struct souk_errinfo *ei)
{
    const char *note = admin_field(ax, "note");
    struct audit_actor who = admin_actor(ax);

    if (strlen(note) > 2000) {
        souk_errinfo_field(ei, "note", "At most 2000 characters.");
        return souk_fail(ei, SOUK_INVALID, "The note is too long.");
    }
    return moderation_hide(admin_db(ax), &who, kind, id, hidden, *note ? note : NULL, ei);
}

int admin_set_hidden(struct admin_ctx *ax, const char *kind, int hidden, struct souk_errinfo *ei)
{
    return admin_set_hidden_id(ax, kind, ax->id, hidden, ei);
}
