"""authzlib.py - the row format of the authorization matrix, and its loader.

The format is documented at the top of test_authz_matrix.py (read that first). A domain file
tests/api/authz_<domain>.py writes `from authzlib import Row, ...` and defines ROWS; this module
checks each row's shape, merges every file's ROWS with the matrix's own rows, and records
every problem (a key defined twice, a file that does not import, a malformed row) as text for
the tests to report, instead of failing the whole collection.

(The name is deliberately not authz_*.py, so that the loader does not take it for a domain
file.)
"""

import glob
import importlib
import inspect
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

KINDS = ("anon", "customer", "vnp", "owner", "other", "mod", "admin")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
PARAM_RE = re.compile(r"\{([^}/]+)\}")


@dataclass
class Row:
    """One route's expected status per caller kind; see test_authz_matrix.py."""
    statuses: Any                       # 7-tuple in KINDS order, or {kind|"*": status}
    body: Any = None                    # JSON value, bytes, or callable() / callable(ctx)
    fresh_token: bool = False           # log the caller in again before the request
    params: dict = field(default_factory=dict)   # fixed path parameter values
    setup: Optional[Callable] = None    # setup(souk, callers) -> dict merged into ctx
    setup_each: bool = False            # run setup before every caller's request
    query: dict = field(default_factory=dict)    # query string; str values use {ctx} names
    headers: dict = field(default_factory=dict)  # extra request headers
    stream: bool = False                # read only the status and headers (event streams)


def all_kinds(code):
    """The same status for every caller, anonymous included."""
    return (code,) * len(KINDS)


def signed_in(code):
    """401 for the anonymous caller, `code` for everyone signed in."""
    return (401,) + (code,) * (len(KINDS) - 1)


def admin_only(code):
    """401 anonymous, 403 for every signed-in role but ADMIN, `code` for ADMIN."""
    return (401, 403, 403, 403, 403, 403, code)


def expand_statuses(statuses):
    """The 7-tuple for a row's statuses (a tuple, or a dict with kinds and/or "*").
    Raises ValueError with a readable message when the shape is wrong."""
    if isinstance(statuses, dict):
        unknown = set(statuses) - set(KINDS) - {"*"}
        if unknown:
            raise ValueError(f"unknown caller kinds {sorted(unknown)} (kinds: {KINDS})")
        missing = [k for k in KINDS if k not in statuses and "*" not in statuses]
        if missing:
            raise ValueError(f"no status for {missing} and no \"*\" default")
        statuses = tuple(statuses.get(k, statuses.get("*")) for k in KINDS)
    if not isinstance(statuses, (tuple, list)) or len(statuses) != len(KINDS):
        raise ValueError(f"statuses must have {len(KINDS)} entries in the order {KINDS}")
    if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
        raise ValueError(f"statuses must be HTTP status integers, got {statuses!r}")
    return tuple(statuses)


def row_problem(key, row):
    """None when (key, row) is a well-formed matrix entry, else what is wrong."""
    if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)
            and isinstance(key[1], str)):
        return f"key {key!r} must be a (METHOD, TEMPLATE) tuple"
    method, tmpl = key
    if method not in METHODS:
        return f"key {key!r}: method must be one of {sorted(METHODS)}"
    if not tmpl.startswith("/"):
        return f"key {key!r}: the template must start with / (as `souk routes` prints it)"
    if not isinstance(row, Row):
        return f"{key!r}: the value must be an authzlib.Row, got {type(row).__name__}"
    try:
        row.statuses = expand_statuses(row.statuses)
    except ValueError as e:
        return f"{key!r}: {e}"
    if row.setup is not None and not callable(row.setup):
        return f"{key!r}: setup must be a callable setup(souk, callers)"
    return None


def call_with_ctx(fn, ctx):
    """fn() or fn(ctx), by the number of parameters fn takes."""
    try:
        takes = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        takes = 0
    return fn(ctx) if takes else fn()


def fill_path(tmpl, ctx):
    """The template with each {name} replaced by ctx[name]; KeyError names a missing one."""
    def one(m):
        name = m.group(1)
        if name not in ctx:
            raise KeyError(name)
        return str(ctx[name])
    return PARAM_RE.sub(one, tmpl)


class Merged:
    """Every row (own + domain files), where each key came from, and the problems found."""

    def __init__(self):
        self.rows = {}
        self.origin = {}
        self.problems = []

    def add(self, rows, source):
        if not isinstance(rows, dict):
            self.problems.append(f"{source}: ROWS must be a dict, got {type(rows).__name__}")
            return
        for key, row in rows.items():
            bad = row_problem(key, row)
            if bad:
                self.problems.append(f"{source}: {bad}")
            elif key in self.rows:
                self.problems.append(f"{key[0]} {key[1]} is defined twice: in "
                                     f"{self.origin[key]} and in {source}")
            else:
                self.rows[key] = row
                self.origin[key] = source


def load_domain_rows(merged, folder):
    """Imports every authz_*.py in folder (sorted by name) and adds its ROWS."""
    for path in sorted(glob.glob(os.path.join(folder, "authz_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        source = os.path.basename(path)
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # reported by a test, so that the other rows still run
            merged.problems.append(f"{source}: import failed: {type(e).__name__}: {e}")
            continue
        if not hasattr(mod, "ROWS"):
            merged.problems.append(f"{source}: defines no ROWS")
            continue
        merged.add(mod.ROWS, source)
