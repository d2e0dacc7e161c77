"""authz_moderation.py - authorization rows for reports, moderation and the audit trail.
Format: see test_authz_matrix.py."""

from authzlib import Row, admin_only
from identity_helpers import make_user

STAFF = (401, 403, 403, 403, 403, 200, 200)


def _target_user(souk, callers):
    return {"id": make_user(souk)["id"]}


def _report(souk, callers):
    target = make_user(souk)
    r = souk.post("/api/reports/", json={"target_type": "user", "target_id": target["id"],
                                         "reason": "spam"}, token=make_user(souk)["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _thread(souk, callers):
    a, b = make_user(souk), make_user(souk)
    r = souk.post("/api/threads/", json={"recipient_id": b["id"], "body": "hi"},
                  token=a["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


ROWS = {
    ("POST", "/api/reports/"): Row((401, 201, 201, 201, 201, 201, 201),
                                   body=lambda ctx: {"target_type": "user",
                                                     "target_id": ctx["id"], "reason": "x"},
                                   setup=_target_user, setup_each=True),
    ("GET", "/api/moderation/reports/"): Row(STAFF),
    ("POST", "/api/moderation/reports/{id}/resolve/"): Row(STAFF, body={"action": "dismiss"},
                                                           setup=_report, setup_each=True),
    ("POST", "/api/moderation/hide/"): Row((401, 403, 403, 403, 403, 400, 400),
                                           body=lambda ctx: {"target_type": "recipe",
                                                             "target_id": ctx["id"],
                                                             "hidden": True},
                                           setup=_target_user),
    ("POST", "/api/moderation/users/{id}/ban/"): Row(STAFF, body={}, setup=_target_user,
                                                     setup_each=True),
    ("POST", "/api/moderation/users/{id}/unban/"): Row(STAFF, setup=_target_user),
    ("GET", "/api/moderation/threads/{id}/"): Row(STAFF, setup=_thread),
    ("GET", "/api/admin/audit/"): Row(admin_only(200)),
}

ROWS[("GET", "/api/users/profile/export/")] = Row((401, 200, 200, 200, 200, 200, 200))
# Erasure needs the password; the matrix's callers are shared, so it only proves who is let in
# (a wrong password: 400 after the auth check). test_userdata.py covers the erasure itself.
ROWS[("DELETE", "/api/users/profile/")] = Row((401, 400, 400, 400, 400, 400, 400),
                                              body={"password": "not-the-password"})
