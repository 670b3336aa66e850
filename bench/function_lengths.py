"""Report functions longer than a limit in geo311/ routing/ maps/ api/.

A function's length is counted from its ``def`` line to its last line, leaving out its
docstring: the code a reader has to hold in their head. Exits 1 when any function is over
the limit, so ``make test`` fails on a new long function.

Usage: ``python bench/function_lengths.py [--limit 80] [--show 60] [PACKAGE ...]``
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("geo311", "routing", "maps", "api")

# Justified exceptions: (file, function) -> why it stays long.
EXCEPTIONS = {
    ("routing/engine/matrix_search.py", "_search_block"): (
        "the numba-compiled Dijkstra kernel: splitting the heap into inlined helpers measured ~3% "
        "slower (more reference counting in the compiled loop)"
    ),
}


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def function_lengths(path: Path) -> Iterator[tuple[int, str, int]]:
    """Yield ``(length, qualified name, line)`` of every function in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[int, str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                total = (child.end_lineno or child.lineno) - child.lineno + 1
                yield total - _docstring_lines(child), f"{prefix}{child.name}", child.lineno
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    parser.add_argument("--limit", type=int, default=80, help="longest allowed function")
    parser.add_argument("--show", type=int, default=None, help="also list functions over this")
    args = parser.parse_args(argv)
    show = args.show if args.show is not None else args.limit
    rows = []
    for package in args.packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for length, name, line in function_lengths(path):
                if length > show:
                    rows.append((length, f"{rel}:{line}", name, (rel, name) in EXCEPTIONS))
    for length, where, name, excused in sorted(rows, reverse=True):
        flag = "ok* " if excused else ("OVER" if length > args.limit else "    ")
        print(f"{flag} {length:4d}  {where}  {name}")
    for (rel, name), why in EXCEPTIONS.items():
        print(f"ok*  {rel} {name}: {why}")
    over = sum(1 for r in rows if r[0] > args.limit and not r[3])
    print(f"{over} function(s) over {args.limit} lines (docstrings not counted)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
