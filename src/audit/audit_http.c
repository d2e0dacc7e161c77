/* audit_http.c - GET /api/admin/audit/ (ADMIN): the audit trail, newest
 * first, filters actor, action, target_type, target_id, since, until. The
 * route has no other method (405): nothing changes the trail through souk.
 *
 * Thread safety: handlers keep all state in the request.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/policy.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/keyset.h"
#include "http/http.h"

static int time_param(struct http_req *req, const char *key, int64_t *out,
                      struct souk_errinfo *ei)
{
    const char *s = http_query(req, key);

    *out = 0;
    if (s && (clock_parse(s, out) || *out <= 0)) {
        souk_errinfo_field(ei, key, "Expected an RFC 3339 timestamp.");
        return SOUK_INVALID;
    }
    return SOUK_OK;
}

static int filter_parse(struct http_req *req, struct audit_filter *f, struct souk_errinfo *ei)
{
    int bad = 0;

    memset(f, 0, sizeof *f);
    f->actor = http_query(req, "actor");
    f->action = http_query(req, "action");
    f->target_type = http_query(req, "target_type");
    f->target_id = http_query(req, "target_id");
    if (f->actor && !uuid_valid(f->actor)) {
        souk_errinfo_field(ei, "actor", "Expected a user id.");
        bad = 1;
    }
    bad |= time_param(req, "since", &f->since, ei) != SOUK_OK;
    bad |= time_param(req, "until", &f->until, ei) != SOUK_OK;
    return bad ? souk_fail(ei, SOUK_INVALID, "invalid filters") : SOUK_OK;
}

static int audit_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_filter f;
    struct keyset ks;
    struct page pg;
    json_t *rows;
    int64_t *keys;
    const char **ids;
    int err;

    if ((err = policy_admin(req, &ei)) || (err = filter_parse(req, &f, &ei)) ||
        (err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = audit_list(req->db, &f, &ks, req->arena, &rows, &keys, &ids, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, rows, keys, ids));
}

void audit_http_register(struct router *r)
{
    http_route(r, "GET", "/api/admin/audit/", audit_get, 0, "The audit trail (ADMIN)");
}
