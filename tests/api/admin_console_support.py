"""admin_console_support.py - a staff member's browser without JavaScript, for
test_admin_console.py: a requests.Session that signs in through /admin/login/ (reading the
form's csrf_token the way a browser submits it), and small HTML readers.
"""

import re
import sqlite3
import subprocess

import requests

import souk_client

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PAYLOAD = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class Console:
    def __init__(self, server):
        self.server = server
        self.http = requests.Session()
        self.csrf = None

    def url(self, path):
        return self.server.url + path

    def get(self, path, **kw):
        kw.setdefault("allow_redirects", False)
        r = self.http.get(self.url(path), timeout=30, **kw)
        m = CSRF_RE.search(r.text)
        if m and path != "/admin/login/" and not path.startswith("/admin/login/?"):
            self.csrf = m.group(1)
        return r

    def post(self, path, data=None, csrf=True, **kw):
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf
        kw.setdefault("allow_redirects", False)
        return self.http.post(self.url(path), data=body, timeout=60, **kw)

    def login(self, email, password, next_path=None):
        form = self.http.get(self.url("/admin/login/"), timeout=30)
        token = CSRF_RE.search(form.text).group(1)
        body = {"email": email, "password": password, "csrf_token": token}
        if next_path:
            body["next"] = next_path
        r = self.http.post(self.url("/admin/login/"), data=body, allow_redirects=False, timeout=30)
        if r.status_code == 303:
            self.get("/admin/")
        return r


def db_exec(server, sql):
    """One write on the server's database (fixtures the API cannot make)."""
    url = server.db_url
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url[len("sqlite:///"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
        return
    r = subprocess.run([souk_client.PSQL, url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def assert_escaped(r):
    assert r.status_code == 200, r.text[:500]
    assert PAYLOAD not in r.text, "unescaped payload in " + r.url
    assert ESCAPED in r.text, "payload not shown (escaped) on " + r.url
