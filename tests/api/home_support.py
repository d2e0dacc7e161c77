"""home_support.py - specialists, projects, requests and promotions for the home-services tests
(test_requests.py, test_promotions.py, the authz_requests/authz_promotions rows, test_sandbox_3ds).

A specialist is a VENDOR whose profile has categories (set through PATCH /api/vendors/profile/);
a project is created through POST /api/projects/ (multipart). While those routes are not served
by the binary under test (the showcase lands separately), the same rows are written straight to
the server's database, in the shape the showcase's migration defines, so that the requests and
promotions rules can still be exercised end to end.
"""

import io
import json
import os
import sqlite3
import subprocess
import time
import uuid
import zlib
import struct

import requests

from identity_helpers import make_chef, make_user
from souk_client import PSQL, routes

CARD_OK = "4242424242424242"
_ROUTES = None


def served(method, tmpl):
    global _ROUTES
    if _ROUTES is None:
        _ROUTES = set(routes())
    return (method, tmpl) in _ROUTES


def sql(server, statement, params=()):
    """Runs one statement on the server's database (bridge while the showcase routes are
    missing). Parameters are '?' placeholders, inlined for psql."""
    url = server.db_url
    if url.startswith("sqlite:"):
        path = url[len("sqlite:///"):]
        with sqlite3.connect(path, timeout=10) as con:
            con.execute(statement, params)
        return
    text = statement
    for p in params:
        lit = "NULL" if p is None else ("'" + str(p).replace("'", "''") + "'")
        text = text.replace("?", lit, 1)
    r = subprocess.run([PSQL, url, "-v", "ON_ERROR_STOP=1", "-qAtc", text], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def make_specialist(server, category="interior-design", **profile):
    """A VENDOR with a profile that has a category; adds "vendor_id"."""
    return specialize(server, make_chef(server, **profile), category)


def specialize(server, chef, category="interior-design"):
    """Gives the profile of a VENDOR made by make_chef a category (idempotent)."""
    vid = chef["chef"]["id"]
    if chef.get("vendor_id"):
        return chef
    r = server.patch("/api/vendors/profile/", json={"categories": [category]},
                     token=chef["access"])
    assert r.status_code == 200, r.text
    if "categories" not in r.json():
        true = "1" if server.db_url.startswith("sqlite:") else "TRUE"
        sql(server, f"UPDATE vendor_profiles SET categories = ?, is_specialist = {true} "
                    "WHERE id = ?", (json.dumps([category]), vid))
        sql(server, "INSERT INTO vendor_categories (vendor_id, slug) VALUES (?, ?) "
                    "ON CONFLICT DO NOTHING", (vid, category))
    chef["vendor_id"] = vid
    return chef


def png_bytes(w=4, h=4):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_project(server, spec, title="Loft"):
    """A project of the specialist; returns its id."""
    if served("POST", "/api/projects/"):
        r = requests.post(server.url + "/api/projects/",
                          headers={"Authorization": "Bearer " + spec["access"]},
                          data={"title": title, "description": "d", "category": "interior-design",
                                "city": "Berlin"},
                          files=[("media", ("a.png", io.BytesIO(png_bytes()), "image/png"))],
                          timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["id"]
    pid = str(uuid.uuid4())
    now = int(time.time() * 1e6)
    sql(server, "INSERT INTO projects (id, vendor_id, title, category, city, media_count, "
                "created_at, updated_at) VALUES (?, ?, ?, 'interior-design', 'Berlin', 1, ?, ?)",
        (pid, spec["vendor_id"], title, now, now))
    return pid


def customer(server):
    return make_user(server, "CUSTOMER")


def new_request(server, client, spec, project_id=None, **extra):
    body = {"specialist_id": spec["vendor_id"], "message": "Please renovate my kitchen.", **extra}
    if project_id:
        body["project_id"] = project_id
    r = server.post("/api/requests/", json=body, token=client["access"])
    assert r.status_code == 201, r.text
    return r.json()


def completed_request(server, client, spec):
    req = new_request(server, client, spec)
    rid = req["id"]
    assert server.post(f"/api/requests/{rid}/accept/", token=spec["access"]).status_code == 200
    assert server.post(f"/api/requests/{rid}/finish/", token=client["access"]).status_code == 200
    r = server.post(f"/api/requests/{rid}/finish/", token=spec["access"])
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    return r.json()


def pay(url, card=CARD_OK):
    return requests.post(url, data={"card_number": card}, allow_redirects=False, timeout=30)


def wait_for(fn, timeout=30.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def mail_files(server):
    """The mails written so far: a mail is written to a .tmp name and renamed when complete, so
    the .tmp ones are not mails yet (and may be gone by the time they would be read)."""
    d = os.path.join(server.data_dir, "mail")
    names = os.listdir(d) if os.path.isdir(d) else []
    return sorted(n for n in names if not n.endswith(".tmp"))


def mails_to(server, email):
    out = []
    d = os.path.join(server.data_dir, "mail")
    for name in mail_files(server):
        with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
            text = f.read()
        if email in text:
            out.append(text)
    return out


def notifications(server, user, type_=None):
    r = server.get("/api/notifications/?page_size=100", token=user["access"])
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    return [n for n in rows if type_ is None or n.get("type") == type_]
