#!/usr/bin/env python3
"""Module check (ARCHITECTURE.md): no import circle among the top-level modules of a
crate (`world` uses `render`, so `render` must not use `world`), and no source file
over 700 lines outside tests. Reads the sources: a module's references are its
`crate::NAME` paths (tests excluded). Exit 1 naming each circle and file."""
import os
import re
import sys

MAX_LINES = 700
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def without_tests(text: str) -> str:
    return re.split(r"#\[cfg\(test\)\]\s*(?:#\[path[^\]]*\]\s*)?mod tests\b", text)[0]


def main() -> int:
    problems = []
    crates = os.path.join(ROOT, "crates")
    for crate in sorted(os.listdir(crates)):
        src = os.path.join(crates, crate, "src")
        refs = {}
        for dirpath, _, files in os.walk(src):
            for f in files:
                if not f.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, src)
                text = open(path, encoding="utf-8").read()
                is_test = f == "tests.rs" or f.endswith("_tests.rs")
                body = without_tests(text)
                if not is_test and body.count("\n") > MAX_LINES:
                    problems.append(f"{crate}/src/{rel}: {body.count(chr(10))} lines outside tests (split it)")
                top = rel.split(os.sep)[0].removesuffix(".rs")
                if top in ("lib", "main") or is_test:
                    continue
                refs.setdefault(top, set()).update(re.findall(r"crate::([a-z_0-9]+)", body))
        edges = {m: {r for r in rs if r in refs and r != m} for m, rs in refs.items()}
        seen = set()

        def walk(start, node, path):
            for n in sorted(edges.get(node, ())):
                if n == start:
                    cycle = tuple(path)
                    key = frozenset(cycle)
                    if key not in seen:
                        seen.add(key)
                        problems.append(f"{crate}: modules import each other: {' -> '.join(cycle + (start,))}")
                elif n not in path and len(path) < 8:
                    walk(start, n, path + [n])

        for m in sorted(edges):
            walk(m, m, [m])
    for p in problems:
        print(f"modules: {p}", file=sys.stderr)
    if not problems:
        print(f"modules: ok (no import circle, no file over {MAX_LINES} lines outside tests)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
