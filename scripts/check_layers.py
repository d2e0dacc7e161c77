#!/usr/bin/python3
"""check_layers.py - the include rules of docs/ARCHITECTURE.md, checked over src/.

1. No cycle between folders: folder A includes a header of folder B, directly or through other
   folders, and B includes one of A's. Folders are src/<name>/; src/*.c (main, app) sit above
   them and are not counted.
2. http/http.h is included only by src/http/, src/auth/, src/sandbox/ (the Stripe-compatible
   server), src/admin/ (the console: server-rendered pages, HTTP through and through) and
   handler files named *_http.c.
3. No handler file (*_http.c) reads result rows (db_get, db_int, db_bool, db_isnull): the
   domain function it calls gives structs or JSON.
4. No handler file runs a transaction (db_run, db_tx_run, a function taking a struct db_conn):
   domain functions own their transactions.

Known exceptions, still to be removed, are listed in scripts/layers_known.txt, one per line:
"cycle a b c" (the folders of one cycle, sorted), "http path/to/file.c", "rows path/to/file.c"
or "tx path/to/file.c". A cycle or an include
that is not listed fails; so does a listed one that no longer exists, so the list only shrinks.
Exit status 1 on any failure, with one line per problem.
"""
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"', re.M)
HTTP_OK = {'http', 'auth', 'sandbox', 'admin'}
ROWS = re.compile(r'\bdb_(get|int|bool|isnull)\s*\(')
TX = re.compile(r'\bdb_(tx_)?run\s*\(|^static int \w+\(struct db_conn \*', re.M)


def scan(root):
    edges, http, rows, txs = {}, [], [], []
    for d, _, files in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel == '.' or os.sep in rel:
            continue
        for f in files:
            if not f.endswith(('.c', '.h')):
                continue
            p = os.path.join(d, f)
            text = open(p, encoding='utf-8', errors='replace').read()
            for folder, header in INC.findall(text):
                if folder != rel and os.path.isdir(os.path.join(root, folder)):
                    edges.setdefault(rel, set()).add(folder)
                if (folder, header) == ('http', 'http.h') and rel not in HTTP_OK \
                        and not f.endswith('_http.c'):
                    http.append(os.path.relpath(p, os.path.dirname(root)))
            if f.endswith('_http.c') and ROWS.search(text):
                rows.append(os.path.relpath(p, os.path.dirname(root)))
            if f.endswith('_http.c') and TX.search(text):
                txs.append(os.path.relpath(p, os.path.dirname(root)))
    return edges, sorted(http), sorted(rows), sorted(txs)


def cycles(edges):
    """Strongly connected components with more than one folder (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(' '.join(sorted(comp)))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(os.path.dirname(here), 'src')
    known_path = os.path.join(here, 'layers_known.txt')
    known = set()
    if os.path.exists(known_path):
        for line in open(known_path):
            line = line.split('#', 1)[0].strip()
            if line:
                known.add(line)
    edges, http, rows, txs = scan(root)
    found = {'cycle ' + c for c in cycles(edges)} | {'http ' + p for p in http} \
        | {'rows ' + p for p in rows} | {'tx ' + p for p in txs}
    bad = 0
    for item in sorted(found - known):
        kind, what = item.split(' ', 1)
        if kind == 'cycle':
            names = what.split()
            detail = '; '.join(f'{a} -> {", ".join(sorted(edges[a] & set(names)))}'
                               for a in names)
            print(f'check_layers: folder include cycle: {what} ({detail})')
        elif kind == 'tx':
            print(f'check_layers: {what} runs a transaction: a domain function should own it')
        elif kind == 'rows':
            print(f'check_layers: {what} reads result rows (db_get...): a domain function '
                  'should give structs or JSON')
        else:
            print(f'check_layers: {what} includes http/http.h outside the HTTP layer')
        bad += 1
    for item in sorted(known - found):
        print(f'check_layers: "{item}" is fixed: remove it from scripts/layers_known.txt')
        bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
