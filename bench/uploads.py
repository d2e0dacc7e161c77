#!/usr/bin/env python3
"""bench/uploads.py - the driver of bench/uploads.sh (standard library only).

  uploads.py setup URL WORK       a specialist with a token, a project; writes WORK/env
                                   (TOKEN, PROJECT, BODY 12 x 1 MiB PNGs, TYPE)
  uploads.py rss URL WORK PID N   N uploads of one 1 MiB image, one at a time; prints the
                                   server's RSS (VmRSS, KiB) before, after every N/4, and after
  uploads.py seed DBFILE VENDOR N  N projects (one media row each) straight into SQLite,
                                   for the list benchmark; favorites for one in ten
"""

import http.client
import json
import os
import sqlite3
import struct
import sys
import time
import urllib.parse
import uuid
import zlib


def png_noise(side, seed):
    rnd = seed * 2654435761 % 2**32
    rows = []
    for _y in range(side):
        row = bytearray(side * 3)
        for i in range(0, len(row), 4):
            rnd = (rnd * 1103515245 + 12345) % 2**31
            row[i:i + 4] = rnd.to_bytes(4, "little")[:len(row) - i]
        rows.append(b"\x00" + bytes(row))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + chunk(b"IEND", b""))


def form(fields, files):
    b = "bench" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
    for i, blob in enumerate(files):
        out += (f"--{b}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{i}.png\""
                f"\r\nContent-Type: image/png\r\n\r\n").encode() + blob + b"\r\n"
    return out + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def call(url, method, path, body=None, token=None, ctype="application/json"):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"Content-Type": ctype}
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data and data[:1] in b"{[" else data)


def setup(url, work):
    email = f"bench-{uuid.uuid4().hex[:8]}@bench.test"
    s, _ = call(url, "POST", "/api/users/register/",
                {"email": email, "password": "bench-password-1", "role": "VENDOR"})
    assert s == 201, s
    s, d = call(url, "POST", "/api/users/login/", {"email": email, "password": "bench-password-1"})
    token = d["access"]
    s, prof = call(url, "POST", "/api/vendors/profile/",
                   {"business_name": "Bench", "categories": ["kitchens"]}, token)
    assert s == 201, prof
    blobs = [png_noise(590, i) for i in range(12)]  # ~1 MiB each
    body, ctype = form({"title": "Bench"}, blobs)
    with open(os.path.join(work, "body.bin"), "wb") as f:
        f.write(body)
    s, p = call(url, "POST", "/api/projects/", body, token, ctype)
    assert s == 201, p
    with open(os.path.join(work, "env"), "w") as f:
        f.write(f"TOKEN={token}\nPROJECT={p['id']}\nVENDOR={prof['id']}\nTYPE='{ctype}'\n"
                f"BODY={os.path.join(work, 'body.bin')}\nFILE_BYTES={len(blobs[0])}\n")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def rss(url, work, pid, n):
    env = dict(line.strip().split("=", 1) for line in open(os.path.join(work, "env")))
    body, ctype = form({"title": "RSS"}, [png_noise(590, 99)])
    samples = [rss_kib(pid)]
    t0 = time.time()
    for i in range(n):
        s, _ = call(url, "POST", "/api/projects/", body, env["TOKEN"], ctype)
        assert s == 201, s
        if (i + 1) % (n // 4) == 0:
            samples.append(rss_kib(pid))
    print("RSS " + " ".join(str(x) for x in samples) + f" seconds={time.time() - t0:.1f}")


def seed(dbfile, vendor, n):
    db = sqlite3.connect(dbfile, timeout=30)
    now = int(time.time() * 1e6)
    rows, media = [], []
    for i in range(n):
        pid = str(uuid.uuid4())
        rows.append((pid, vendor, f"Seed project {i}", "kitchens", "Tunis", now - i * 1000))
        media.append((str(uuid.uuid4()), pid, "0" * 64, now))
    db.executemany("INSERT INTO projects (id, vendor_id, title, category, city, media_count, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?5 + 0)".replace(
                       "?5 + 0", "?6"), rows)
    db.executemany("INSERT INTO project_media (id, project_id, position, kind, content_type, "
                   "file_hash, width, height, size, processed_at, created_at) VALUES "
                   "(?, ?, 0, 'image', 'image/png', ?, 10, 10, 100, ?4, ?4)", media)
    db.execute("UPDATE vendor_profiles SET project_count = project_count + ? WHERE id = ?",
               (n, vendor))
    db.commit()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "setup":
        setup(sys.argv[2], sys.argv[3])
    elif cmd == "rss":
        rss(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "seed":
        seed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
