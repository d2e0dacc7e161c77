"""authz_projects.py - authorization rows for /api/specialists/..., /api/projects/...,
/api/favorites/ and /media/ (API.md § Home services). Format: see test_authz_matrix.py.

Objects: projects belong to callers["owner"], made a specialist (categories on its profile) by
the setups; callers["other"] is a VENDOR with a profile but no category, so not a specialist.
"""

import uuid

from authzlib import Row, all_kinds, signed_in
from projects_support import png

#            anon customer vnp owner other mod admin
SPECIALIST = (401, 403, 403, 200, 403, 403, 403)
OWNER_ADMIN = (401, 403, 403, 200, 403, 403, 200)


def _specialist(souk, callers):
    owner = callers["owner"]
    r = souk.patch("/api/vendors/profile/", token=owner["access"],
                   json={"categories": ["authz"]})
    assert r.status_code == 200, r.text
    return {"id": owner["chef"]["id"]}


def _form(fields, files):
    boundary = "authz" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                .encode())
    for i, blob in enumerate(files):
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; "
                f"filename=\"f{i}.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
        out += blob + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


FORM, FORM_TYPE = _form({"title": "Authz"}, [png(4, 4, seed=7)])


def _project(souk, callers):
    ctx = _specialist(souk, callers)
    r = souk.post("/api/projects/", token=callers["owner"]["access"], data=FORM,
                  headers={"Content-Type": FORM_TYPE})
    assert r.status_code == 201, r.text
    p = r.json()
    return {"id": p["id"], "name": p["media"][0]["url"].rsplit("/", 1)[1]}


ROWS = {
    ("GET", "/api/specialists/"): Row(all_kinds(200)),
    ("GET", "/api/specialists/{id}/"): Row(all_kinds(200), setup=_specialist),
    ("GET", "/api/specialists/me/statistics/"): Row(SPECIALIST, setup=_specialist),
    ("PUT", "/api/specialists/{id}/favorite/"): Row(signed_in(200), setup=_specialist),
    ("DELETE", "/api/specialists/{id}/favorite/"): Row(signed_in(204), setup=_specialist),
    ("GET", "/api/favorites/"): Row(signed_in(200)),
    ("GET", "/api/projects/"): Row(all_kinds(200)),
    ("POST", "/api/projects/"): Row((401, 403, 403, 201, 403, 403, 403), body=FORM,
                                    headers={"Content-Type": FORM_TYPE}, setup=_specialist),
    ("GET", "/api/projects/my/"): Row(SPECIALIST, setup=_specialist),
    ("GET", "/api/projects/{id}/"): Row(all_kinds(200), setup=_project),
    ("PATCH", "/api/projects/{id}/"): Row(OWNER_ADMIN, body={"title": "Authz 2"},
                                          setup=_project),
    ("DELETE", "/api/projects/{id}/"): Row((401, 403, 403, 204, 403, 403, 204), setup=_project,
                                           setup_each=True),
    ("PUT", "/api/projects/{id}/favorite/"): Row(signed_in(200), setup=_project),
    ("DELETE", "/api/projects/{id}/favorite/"): Row(signed_in(204), setup=_project),
    ("GET", "/api/projects/{id}/statistics/"): Row(OWNER_ADMIN, setup=_project),
    ("GET", "/media/{name}"): Row(all_kinds(200), setup=_project),
}
