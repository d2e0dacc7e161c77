"""projects_support.py - helpers for the showcase tests: specialists, generated PNG and JPEG
bytes (standard library only), a JPEG carrying EXIF with GPS, multipart uploads, and waiting
for the media jobs.
"""

import hashlib
import os
import struct
import time
import zlib

from identity_helpers import make_user

# A 16 x 16 baseline JPEG without metadata.
JPEG_16 = bytes.fromhex("ffd8ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb0043011112121815182f1a1a2f634238426363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363ffc00011080010001003012200021101031101ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a0bffc400b51100020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f008e8a28a00fffd9")


def png(width=8, height=8, seed=1):
    """A valid RGB PNG of width x height with a seed-dependent pattern."""
    raw = b"".join(b"\x00" + bytes(((x * 7 + y * 3 + seed * 11) % 256) for x in range(width * 3))
                   for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _ifd(entries, next_off=0):
    out = struct.pack(">H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack(">HHI", tag, typ, count) + value
    return out + struct.pack(">I", next_off)


def jpeg_with_gps():
    """JPEG_16 with an APP1 Exif segment: Make "SoukCam" and a GPS IFD (latitude N 48/1)."""
    # TIFF (big endian): IFD0 at 8 with Make (ASCII) and the GPS IFD pointer.
    ifd0_len = 2 + 2 * 12 + 4
    make_off = 8 + ifd0_len
    make = b"SoukCam\x00"
    gps_off = make_off + len(make)
    ifd0 = _ifd([(0x010F, 2, len(make), struct.pack(">I", make_off)),
                 (0x8825, 4, 1, struct.pack(">I", gps_off))])
    gps_len = 2 + 2 * 12 + 4
    rat_off = gps_off + gps_len
    gps = _ifd([(0x0001, 2, 2, b"N\x00\x00\x00"),
                (0x0002, 5, 3, struct.pack(">I", rat_off))])
    rats = struct.pack(">IIIIII", 48, 1, 51, 1, 30, 1)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + make + gps + rats
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return JPEG_16[:2] + app1 + JPEG_16[2:]


def make_specialist(souk, categories=("kitchens",), city="Tunis", name=None):
    v = make_user(souk, "VENDOR")
    r = souk.post("/api/vendors/profile/", token=v["access"],
                  json={"business_name": name or ("Studio " + v["email"][:8]), "city": city,
                        "bio": "interiors", "categories": list(categories)})
    assert r.status_code == 201, r.text
    v["profile"] = r.json()
    return v


def files_of(*blobs, names=None):
    return [("media", ((names or {}).get(i, f"f{i}.bin"), b, "application/octet-stream"))
            for i, b in enumerate(blobs)]


def create_project(souk, spec, blobs=None, **fields):
    data = {"title": "Loft", "category": "kitchens", "city": "Tunis", **fields}
    files = files_of(*(blobs if blobs is not None else [png()]))
    if not files:  # still multipart: the text fields as parts
        files = [(k, (None, v)) for k, v in data.items()]
        data = None
    return souk.post("/api/projects/", token=spec["access"], data=data, files=files)


def media_files(souk):
    """Stored files under the media directory (temporary files excluded)."""
    root = os.path.join(souk.data_dir, "media")
    out = set()
    for d, _dirs, names in os.walk(root):
        if os.path.basename(d) == "tmp":
            continue
        out.update(names)
    return out


def stored(souk, *blobs):
    """The blobs (by content hash) that are on disk under the media directory."""
    have = media_files(souk)
    return [b for b in blobs if hashlib.sha256(b).hexdigest() in have]


def tmp_files(souk):
    d = os.path.join(souk.data_dir, "media", "tmp")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def wait_for(fn, timeout=20.0, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()
