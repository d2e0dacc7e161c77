/* policy.c - authorization decisions, see policy.h. */
#include <string.h>

#include "auth/auth.h"
#include "auth/policy.h"
#include "http/http.h"

int policy_anyone(const struct http_req *req, struct souk_errinfo *ei)
{
    if (!req->user && req->auth_err)
        return souk_fail(ei, SOUK_TOKEN_INVALID,
                         "The access token is invalid, expired or revoked.");
    return SOUK_OK;
}

int policy_user(const struct http_req *req, struct souk_errinfo *ei)
{
    int err = policy_anyone(req, ei);

    if (err)
        return err;
    if (!req->user)
        return souk_fail(ei, SOUK_UNAUTHENTICATED,
                         "Authentication credentials were not provided.");
    return SOUK_OK;
}

static int require_role(const struct http_req *req, int role, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (err)
        return err;
    if (req->user->role != role)
        return souk_fail(ei, SOUK_FORBIDDEN,
                         "You do not have permission to perform this action.");
    return SOUK_OK;
}

int policy_admin(const struct http_req *req, struct souk_errinfo *ei)
{
    return require_role(req, AUTH_ROLE_ADMIN, ei);
}

int policy_is_staff(const struct http_req *req)
{
    return req->user &&
           (req->user->role == AUTH_ROLE_MODERATOR || req->user->role == AUTH_ROLE_ADMIN);
}

int policy_staff(const struct http_req *req, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);
    if (err)
        return err;
    return policy_is_staff(req) ? SOUK_OK
                                : souk_fail(ei, SOUK_FORBIDDEN,
                                            "You do not have permission to perform this action.");
}

int policy_vendor(const struct http_req *req, struct souk_errinfo *ei)
{
    return require_role(req, AUTH_ROLE_VENDOR, ei);
}

static int is_owner(const struct http_req *req, const char *owner_user_id)
{
    return req->user && owner_user_id && strcmp(req->user->id, owner_user_id) == 0;
}

int policy_owner(const struct http_req *req, const char *owner_user_id, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (err)
        return err;
    if (!is_owner(req, owner_user_id))
        return souk_fail(ei, SOUK_FORBIDDEN, "Only the owner may do this.");
    return SOUK_OK;
}

int policy_owner_or_admin(const struct http_req *req, const char *owner_user_id,
                          struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (err)
        return err;
    if (!is_owner(req, owner_user_id) && req->user->role != AUTH_ROLE_ADMIN)
        return souk_fail(ei, SOUK_FORBIDDEN, "Only the owner or an administrator may do this.");
    return SOUK_OK;
}

int policy_sees_private(const struct http_req *req, const char *owner_user_id)
{
    return is_owner(req, owner_user_id) || (req->user && req->user->role == AUTH_ROLE_ADMIN);
}

int policy_self_assignable_role(int role)
{
    return role == AUTH_ROLE_CUSTOMER || role == AUTH_ROLE_VENDOR;
}

/* ---- catalog and orders ------------------------------------------------------------ */

int policy_customer(const struct http_req *req, struct souk_errinfo *ei)
{
    return require_role(req, AUTH_ROLE_CUSTOMER, ei);
}

int policy_is_admin(const struct http_req *req)
{
    return req->user && req->user->role == AUTH_ROLE_ADMIN;
}

int policy_order_view(const struct http_req *req, const char *customer_user_id,
                      const char *vendor_user_id, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (err)
        return err;
    if (!is_owner(req, customer_user_id) && !is_owner(req, vendor_user_id) &&
        req->user->role != AUTH_ROLE_ADMIN)
        return souk_fail(ei, SOUK_NOT_FOUND, "No such order.");
    return SOUK_OK;
}

int policy_order_customer(const struct http_req *req, const char *customer_user_id,
                          const char *vendor_user_id, struct souk_errinfo *ei)
{
    int err = policy_order_view(req, customer_user_id, vendor_user_id, ei);

    if (!err && !is_owner(req, customer_user_id))
        err = souk_fail(ei, SOUK_FORBIDDEN, "Only the customer who placed the order may do this.");
    return err;
}

int policy_order_vendor(const struct http_req *req, const char *customer_user_id,
                        const char *vendor_user_id, struct souk_errinfo *ei)
{
    int err = policy_order_view(req, customer_user_id, vendor_user_id, ei);

    if (!err && !is_owner(req, vendor_user_id))
        err = souk_fail(ei, SOUK_FORBIDDEN, "Only the vendor of the order may do this.");
    return err;
}

int policy_order_refund(const struct http_req *req, const char *customer_user_id,
                        const char *vendor_user_id, struct souk_errinfo *ei)
{
    int err = policy_order_view(req, customer_user_id, vendor_user_id, ei);

    if (!err && !is_owner(req, vendor_user_id) && req->user->role != AUTH_ROLE_ADMIN)
        err = souk_fail(ei, SOUK_FORBIDDEN,
                        "Only the vendor of the order or an administrator may refund it.");
    return err;
}

/* ---- requests, reviews, promotions, blog ---------------------------------------------- */

int policy_request_view(const struct http_req *req, const char *client_user_id,
                        const char *specialist_user_id, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (!err && !is_owner(req, client_user_id) && !is_owner(req, specialist_user_id))
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such request.");
    return err;
}

int policy_request_client(const struct http_req *req, const char *client_user_id,
                          const char *specialist_user_id, struct souk_errinfo *ei)
{
    int err = policy_request_view(req, client_user_id, specialist_user_id, ei);

    if (!err && !is_owner(req, client_user_id))
        err = souk_fail(ei, SOUK_FORBIDDEN, "Only the client of the request may do this.");
    return err;
}

int policy_request_specialist(const struct http_req *req, const char *client_user_id,
                              const char *specialist_user_id, struct souk_errinfo *ei)
{
    int err = policy_request_view(req, client_user_id, specialist_user_id, ei);

    if (!err && !is_owner(req, specialist_user_id))
        err = souk_fail(ei, SOUK_FORBIDDEN, "Only the specialist of the request may do this.");
    return err;
}

/* ---- listings and messaging --------------------------------------------------------- */

int policy_staff_or_owner(const struct http_req *req, const char *owner_user_id)
{
    return is_owner(req, owner_user_id) ||
           (req->user && (req->user->role == AUTH_ROLE_MODERATOR ||
                          req->user->role == AUTH_ROLE_ADMIN));
}
