/* policy.h - who may do what: the ONE place that looks at roles.
 *
 * Every handler asks here after parsing and before calling its domain;
 * handlers never compare roles themselves. Each check returns SOUK_OK or
 * an error with ei filled (for http_problem):
 *   no token                          -> SOUK_UNAUTHENTICATED
 *   a token that was refused          -> SOUK_TOKEN_INVALID (even on public routes)
 *   signed in but not allowed         -> SOUK_FORBIDDEN
 * Object-level checks take the owner's user id, which the handler got from
 * the domain (a vendor profile's user_id, say).
 *
 * Thread safety: pure functions of the request.
 */
#ifndef SOUK_AUTH_POLICY_H
#define SOUK_AUTH_POLICY_H

#include "core/err.h"

struct http_req;
struct auth_user;

/* Anyone, but a token that was sent must be valid. */
int policy_anyone(const struct http_req *req, struct souk_errinfo *ei);
/* Any signed-in user. */
int policy_user(const struct http_req *req, struct souk_errinfo *ei);
/* ADMIN only. */
int policy_admin(const struct http_req *req, struct souk_errinfo *ei);
/* Staff: MODERATOR or ADMIN. */
int policy_staff(const struct http_req *req, struct souk_errinfo *ei);
/* 1 when the caller is MODERATOR or ADMIN. */
int policy_is_staff(const struct http_req *req);
/* A VENDOR (managing their own vendor profile). */
int policy_vendor(const struct http_req *req, struct souk_errinfo *ei);
/* The owner of an object (owner_user_id) or an ADMIN. */
int policy_owner_or_admin(const struct http_req *req, const char *owner_user_id,
                          struct souk_errinfo *ei);
/* The owner of an object only. */
int policy_owner(const struct http_req *req, const char *owner_user_id, struct souk_errinfo *ei);

/* Questions (1 yes, 0 no) for what a response shows; no error. */
int policy_sees_private(const struct http_req *req, const char *owner_user_id);
/* Roles a person may give themselves at registration. */
int policy_self_assignable_role(int role);

/* ---- catalog and orders (src/catalog, src/orders) --------------------------
 * An order is private to its customer, its vendor and ADMIN: anyone else gets
 * SOUK_NOT_FOUND, as if it did not exist. Among those who see it, only the
 * party named may act; the others get SOUK_FORBIDDEN. */
/* A CUSTOMER (placing an order). */
int policy_customer(const struct http_req *req, struct souk_errinfo *ei);
/* Sees the order: its customer, its vendor (the profile owner's user id), ADMIN. */
int policy_order_view(const struct http_req *req, const char *customer_user_id,
                      const char *vendor_user_id, struct souk_errinfo *ei);
/* Acts as the order's customer (cancel, new payment link). */
int policy_order_customer(const struct http_req *req, const char *customer_user_id,
                          const char *vendor_user_id, struct souk_errinfo *ei);
/* Acts as the order's vendor (complete). */
int policy_order_vendor(const struct http_req *req, const char *customer_user_id,
                        const char *vendor_user_id, struct souk_errinfo *ei);
/* Refunds: the order's vendor or ADMIN. */
int policy_order_refund(const struct http_req *req, const char *customer_user_id,
                        const char *vendor_user_id, struct souk_errinfo *ei);
/* 1 when the caller is an ADMIN (for the actor recorded in order history). */
int policy_is_admin(const struct http_req *req);

/* ---- requests, reviews, promotions, blog (src/requests, src/promotions, src/blog) ---
 * A request is private to its client and its specialist (staff included:
 * anyone else gets SOUK_NOT_FOUND); of the two, only the party named acts. */
int policy_request_view(const struct http_req *req, const char *client_user_id,
                        const char *specialist_user_id, struct souk_errinfo *ei);
int policy_request_client(const struct http_req *req, const char *client_user_id,
                          const char *specialist_user_id, struct souk_errinfo *ei);
int policy_request_specialist(const struct http_req *req, const char *client_user_id,
                              const char *specialist_user_id, struct souk_errinfo *ei);
/* ---- listings and messaging (src/listings, src/messaging) -------------------
 * Staff = MODERATOR or ADMIN. A draft, archived or hidden listing shows to
 * its owner and staff only; threads show to their participants only (the
 * messaging domain answers SOUK_NOT_FOUND to anyone else, staff included). */
/* 1 when the caller is the owner or staff. */
int policy_staff_or_owner(const struct http_req *req, const char *owner_user_id);

#endif
