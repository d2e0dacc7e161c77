/* sections.c - the admin console's sections, in menu order (admin.h).
 *
 * A new section is one sec_<name>.c file defining `const struct
 * admin_section admin_sec_<name>`, its templates <slug>_list.html and
 * <slug>_detail.html in src/admin/templates/, and one line in each list
 * below. The routes follow from the table (admin_http_register).
 */
#include "admin/admin.h"

extern const struct admin_section admin_sec_users, admin_sec_vendors, admin_sec_recipes,
    admin_sec_orders, admin_sec_subscriptions, admin_sec_jobs, admin_sec_payment_events,
    admin_sec_reports, admin_sec_audit, admin_sec_projects, admin_sec_listings,
    admin_sec_reviews, admin_sec_threads, admin_sec_promotions, admin_sec_blog;

const struct admin_section *const admin_sections[] = {
    &admin_sec_users,
    &admin_sec_vendors,
    &admin_sec_recipes,
    &admin_sec_projects,
    &admin_sec_listings,
    &admin_sec_reviews,
    &admin_sec_orders,
    &admin_sec_subscriptions,
    &admin_sec_promotions,
    &admin_sec_jobs,
    &admin_sec_payment_events,
    &admin_sec_reports,
    &admin_sec_threads,
    &admin_sec_blog,
    &admin_sec_audit,
    NULL,
};
