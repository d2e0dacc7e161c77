/* userdata_http.c - the caller's own data as a whole:
 *
 *   GET    /api/users/profile/export/   every record of the caller, as one JSON attachment
 *   DELETE /api/users/profile/          {password} -> 204: the account is erased
 *
 * Thread safety: handlers keep all state in the request.
 */
#include <stdio.h>

#include "auth/policy.h"
#include "core/json.h"
#include "http/http.h"
#include "userdata/userdata.h"

static int export_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char disposition[96];
    json_t *doc;
    int err;

    if ((err = policy_user(req, &ei)) || (err = userdata_export(req->db, req->user->id, &doc, &ei)))
        return http_problem(req, err, &ei);
    snprintf(disposition, sizeof disposition, "attachment; filename=\"souk-export-%s.json\"",
             req->user->id);
    http_set_header(req, "Content-Disposition", disposition);
    return http_json(req, 200, doc);
}

static int profile_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *password;
    struct jv v;
    json_t *body;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    password = jv_str(&v, "password", JV_REQUIRED, 1, 1024, NULL);
    if ((err = jv_done(&v)) || (err = userdata_erase(req->db, req->user->id, password, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

void userdata_http_register(struct router *r)
{
    http_route(r, "GET", "/api/users/profile/export/", export_get, 0,
               "Everything souk keeps about the caller, as one JSON document");
    http_route(r, "DELETE", "/api/users/profile/", profile_delete, 0,
               "Erase the caller's account ({password})");
}
