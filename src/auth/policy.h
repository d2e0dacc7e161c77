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

#endif
