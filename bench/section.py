#!/usr/bin/env python3
"""bench/section.py - replaces one script's marked section of bench/RESULTS.md, leaving the rest.

Every benchmark script owns one section of the results file, between its own markers:

    <!-- bench/NAME.sh -->
    ...what the script measured last...
    <!-- /bench/NAME.sh -->

Usage:
    section.py RESULTS.md bench/NAME.sh SECTION.md [--head HEAD.md]

SECTION.md is the new content (without the markers). The section is replaced where it stands,
or appended at the end when the file has none (the file is created when missing). Other
scripts' sections and any text between them are kept byte for byte.

--head is for bench/run.sh only: HEAD.md replaces everything before the first marked section
(the title and introduction, which run.sh owns), and a missing section is inserted right after
that head instead of being appended. A results file from before the convention (run.sh's old
output with no markers) is all "head", so it is replaced rather than kept twice.

The file is refused, and left untouched, when its markers do not pair up (a start marker
without its end, an end without a start, nesting): a broken file is never made worse. The
write is atomic (temp file + rename) and serialised with other section.py runs by an flock on
the file's directory, so two scripts finishing at once cannot drop each other's section.
"""

import fcntl
import os
import re
import sys
import tempfile

MARK_RE = re.compile(r"<!-- (/?)(bench/[A-Za-z0-9_.-]+) -->")
DEFAULT_HEAD = "# souk benchmark results\n"


def usage():
    sys.exit("usage: section.py RESULTS.md bench/NAME.sh SECTION.md [--head HEAD.md]")


def read(path, missing=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return missing


def sections(text):
    """[(name, start, end)] of every marked section, end just past its end marker; exits when
    the markers do not pair up."""
    out, open_name, open_at = [], None, 0
    for m in MARK_RE.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        if not closing and open_name is None:
            open_name, open_at = name, m.start()
        elif closing and name == open_name:
            out.append((name, open_at, m.end()))
            open_name = None
        else:
            line = text.count("\n", 0, m.start()) + 1
            sys.exit(f"section.py: unpaired marker {m.group(0)} on line {line}; fix the file by hand")
    if open_name is not None:
        sys.exit(f"section.py: <!-- {open_name} --> has no end marker; fix the file by hand")
    return out


def finish(text):
    return text.rstrip("\n") + "\n"


def splice(text, name, body, head=None):
    """text with section `name` holding body (see the module comment); head: run.sh's head."""
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    found = sections(text)
    mine = [s for s in found if s[0] == name]
    if len(mine) > 1:
        sys.exit(f"section.py: {name} has {len(mine)} sections; keep one by hand")
    if head is not None:  # the head is everything before the first section
        head = head.rstrip("\n") + "\n\n"
        cut = found[0][1] if found else len(text)
        text = head + text[cut:]
        if not mine:
            return finish(head + block + "\n\n" + text[len(head):])
        mine = [(n, s - cut + len(head), e - cut + len(head)) for n, s, e in mine]
    if mine:
        _, start, end = mine[0]
        return finish(text[:start] + block + text[end:])
    base = text if text.strip() else DEFAULT_HEAD
    return finish(base.rstrip("\n") + "\n\n" + block)


def write_atomic(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".results-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--head"):
        usage()
    path, name, section_path = argv[0], argv[1], argv[2]
    if not re.fullmatch(r"bench/[A-Za-z0-9_.-]+", name):
        sys.exit(f"section.py: bad section name {name!r} (expected bench/NAME.sh)")
    body = read(section_path, None)
    if body is None:
        sys.exit(f"section.py: {section_path} not found")
    head = read(argv[4], None) if len(argv) == 5 else None
    if len(argv) == 5 and head is None:
        sys.exit(f"section.py: {argv[4]} not found")
    dirfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        fcntl.flock(dirfd, fcntl.LOCK_EX)
        write_atomic(path, splice(read(path), name, body, head))
    finally:
        os.close(dirfd)  # releases the lock


if __name__ == "__main__":
    main(sys.argv[1:])
