#!/usr/bin/python3
"""check_function_length.py - fails when a function body in src/ is longer than the limit.

Usage: scripts/check_function_length.py [--max N] [DIR]   (defaults: 60 lines, src)

A function is a top-level line ending in ')' or '{' that opens a body with '{' in column 0 and
ends with '}' in column 0, the layout .clang-format gives every function in the tree. Its length
is the number of lines between the braces. Prints one line per offender, exits 1 when any.
"""
import os
import re
import sys

HEAD = re.compile(r'^[A-Za-z_][^;=]*\)\s*(\{)?\s*$')


def functions(path):
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    name, start = None, None
    for i, line in enumerate(lines):
        if start is None:
            if line.startswith('{') and i > 0:
                head = next((lines[j] for j in range(i - 1, max(i - 6, -1), -1)
                             if HEAD.match(lines[j]) or '(' in lines[j]), '')
                if '(' in head or lines[i - 1].rstrip().endswith(')'):
                    m = re.search(r'(\w+)\s*\(', head)
                    name, start = (m.group(1) if m else '?'), i
        elif line.startswith('}'):
            yield name, start + 1, i - start - 1
            name, start = None, None


def main(argv):
    limit, root = 60, 'src'
    args = list(argv)
    if args[:1] == ['--max']:
        limit, args = int(args[1]), args[2:]
    if args:
        root = args[0]
    bad = 0
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if not f.endswith('.c'):
                continue
            p = os.path.join(d, f)
            for name, line, n in functions(p):
                if n > limit:
                    print(f'{p}:{line}: {name}() is {n} lines (limit {limit})')
                    bad += 1
    if bad:
        print(f'check_function_length: {bad} function(s) longer than {limit} lines')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
