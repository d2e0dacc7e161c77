#!/usr/bin/env python3
"""Merges docs/openapi/*.json into one OpenAPI document.

00-base.json holds `openapi`, `info`, `servers`, shared `components`; every other file is one
module's fragment with `paths` and optionally `components` (schemas, parameters, responses).
A path or component defined twice is an error, so fragments cannot silently overwrite each other.
Usage: openapi_merge.py OUT.json FRAGMENT.json...
"""
import json
import sys


def main():
    out, files = sys.argv[1], sorted(sys.argv[2:])
    doc = None
    for f in files:
        with open(f, encoding="utf-8") as fh:
            try:
                frag = json.load(fh)
            except json.JSONDecodeError as e:
                sys.exit(f"{f}: invalid JSON: {e}")
        if doc is None:
            doc = frag
            doc.setdefault("paths", {})
            doc.setdefault("components", {})
            continue
        for path, item in frag.get("paths", {}).items():
            target = doc["paths"].setdefault(path, {})
            for method, op in item.items():
                if method in target:
                    sys.exit(f"{f}: {method.upper()} {path} is already defined")
                target[method] = op
        for kind, entries in frag.get("components", {}).items():
            target = doc["components"].setdefault(kind, {})
            for name, value in entries.items():
                if name in target:
                    sys.exit(f"{f}: components.{kind}.{name} is already defined")
                target[name] = value
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
