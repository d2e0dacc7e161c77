"""test_proxy.py - souk behind a reverse proxy (issue 17): SOUK_TRUSTED_PROXIES decides whether
X-Forwarded-For / Forwarded / X-Forwarded-Proto are believed; the resolved address feeds the rate
limit, the login throttle and the access log; authenticated callers are limited per user."""

import json
import time

from identity_helpers import assert_problem, make_user, login, register, unique_email

LIMITED = {"SOUK_RATE_LIMIT_RPS": "1", "SOUK_RATE_LIMIT_BURST": "3"}


def statuses(server, n, xff=None, token=None, path="/api/nothing-here/"):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return [server.get(path, headers=headers, token=token).status_code for _ in range(n)]


def test_untrusted_peer_headers_ignored(souk_factory):
    s = souk_factory(**LIMITED)
    # Each request claims another address: all count against the peer, 127.0.0.1.
    got = [s.get("/api/nothing-here/", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
           for i in range(5)]
    assert got == [404, 404, 404, 429, 429]


def test_trusted_proxy_limits_per_client(souk_factory):
    s = souk_factory(SOUK_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1/32", **LIMITED)
    assert statuses(s, 4, xff="198.51.100.1") == [404, 404, 404, 429]
    # Another client behind the same proxy has its own budget.
    assert statuses(s, 3, xff="198.51.100.2") == [404, 404, 404]
    # A spoofed left part does not buy a fresh budget: the right-most untrusted hop counts.
    assert statuses(s, 1, xff="203.0.113.77, 198.51.100.1") == [429]
    assert statuses(s, 1, xff="203.0.113.78, 198.51.100.1, 10.1.2.3") == [429]
    # No header from the trusted peer: the peer itself.
    assert statuses(s, 3) == [404, 404, 404]


def test_authenticated_limited_per_user(souk_factory):
    s = souk_factory(SOUK_TRUSTED_PROXIES="127.0.0.1", SOUK_RATE_LIMIT_RPS="1",
                     SOUK_RATE_LIMIT_BURST="6")
    users = []
    for i in range(2):  # setup traffic from addresses of its own
        email = unique_email()
        hdr = {"X-Forwarded-For": f"192.0.2.{10 + i}"}
        body = {"email": email, "password": "correct-horse-42", "first_name": "A", "last_name": "B"}
        assert s.post("/api/users/register/", json=body, headers=hdr).status_code == 201
        r = s.post("/api/users/login/", json={"email": email, "password": "correct-horse-42"},
                   headers=hdr)
        assert r.status_code == 200, r.text
        users.append(r.json()["access"])
    # Both users behind one address: each has the whole burst.
    assert statuses(s, 6, xff="198.51.100.50", token=users[0], path="/api/users/profile/") == [200] * 6
    assert statuses(s, 6, xff="198.51.100.50", token=users[1], path="/api/users/profile/") == [200] * 6
    assert statuses(s, 1, xff="198.51.100.50", token=users[0], path="/api/users/profile/") == [429]
    # Anonymous requests from that address were not charged for them.
    assert statuses(s, 6, xff="198.51.100.50") == [404] * 6
    # An invalid token is anonymous for the limit (and still refused).
    r = s.get("/api/users/profile/", headers={"X-Forwarded-For": "198.51.100.50"}, token="nope")
    assert r.status_code == 429


def test_login_throttle_per_forwarded_address(souk_factory):
    s = souk_factory(SOUK_TRUSTED_PROXIES="127.0.0.1", SOUK_LOGIN_MAX_FAILURES="2")
    email = unique_email()
    assert register(s, email=email).status_code == 201
    bad = {"email": email, "password": "wrong-password-1"}
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    codes = [s.post("/api/users/login/", json=bad, headers=attacker).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    # The attacker's address is throttled even with the right password...
    good = {"email": email, "password": "correct-horse-42"}
    assert s.post("/api/users/login/", json=good, headers=attacker).status_code == 429
    # ...while the user, at another address behind the same proxy, logs in.
    r = s.post("/api/users/login/", json=good, headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status_code == 200, r.text


def test_forwarded_proto_and_access_log(souk_factory):
    s = souk_factory(SOUK_TRUSTED_PROXIES="127.0.0.1", SOUK_ACCESS_LOG="1", SOUK_LOG_LEVEL="info")
    r = s.get("/api/nothing-here/?page_size=1",
              headers={"Forwarded": 'for="[2001:db8::5]:443";proto=https', "X-Request-Id": "fw-1"})
    assert r.status_code == 404
    r = s.get("/healthz", headers={"X-Forwarded-For": "198.51.100.44", "X-Request-Id": "fw-2"})
    assert r.status_code == 200
    deadline = time.time() + 5
    found = {}
    while time.time() < deadline and len(found) < 2:
        with open(s.stderr_path) as f:
            for line in f:
                if '"request"' not in line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                blob = json.dumps(rec)
                if "fw-1" in blob or "fw-2" in blob:
                    found["fw-1" if "fw-1" in blob else "fw-2"] = blob
        time.sleep(0.1)
    assert '"ip": "2001:db8::5"' in found["fw-1"], found
    assert '"peer": "127.0.0.1"' in found["fw-1"], found
    assert '"ip": "198.51.100.44"' in found["fw-2"], found


def test_bad_trusted_proxies_refuse_to_start(souk_factory):
    s = souk_factory(wait=False, SOUK_TRUSTED_PROXIES="10.0.0.0/99")
    assert s.wait_exit(timeout=15) == 1
    assert "SOUK_TRUSTED_PROXIES" in s.stderr_tail()
    s.stop(check=False)
