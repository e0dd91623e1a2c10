"""Code-shape figures of the package (for refactoring notes): lines per module, the
longest functions, and private members of CollocationNeuralODE used outside its module.

    python scripts/code_metrics.py [--longest 10]
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skneuralode"
TREE = PACKAGE.parent


def code_lines(path: Path) -> int:
    """Non-blank lines (docstrings and comments included, as wc would count them)."""
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1, node.lineno


def private_estimator_members() -> dict[str, set[str]]:
    """``est._name`` style uses of CollocationNeuralODE's private members outside it."""
    est_file = PACKAGE / "_estimator.py"
    tree = ast.parse(est_file.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef)
               and n.name == "CollocationNeuralODE")  # fmt: skip
    private = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)
               and n.name.startswith("_") and not n.name.startswith("__")}  # fmt: skip
    private |= {n.name for n in ast.walk(cls) if isinstance(n, ast.Attribute)
                and n.attr.startswith("_") and False}  # fmt: skip
    used: dict[str, set[str]] = {}
    for path in list(PACKAGE.rglob("*.py")) + list((TREE / "benchmarks").rglob("*.py")):
        if path == est_file:
            continue
        for name in private:
            if re.search(rf"\b(est|estimator|model|self\.estimator_|estimator_)\.{name}\b",
                         path.read_text()):  # fmt: skip
                used.setdefault(name, set()).add(str(path.relative_to(TREE)))
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--longest", type=int, default=10)
    args = parser.parse_args()
    modules = sorted(PACKAGE.rglob("*.py"))
    total = 0
    print("lines per module (non-blank):")
    for path in modules:
        n = code_lines(path)
        total += n
        print(f"  {n:5d}  {path.relative_to(PACKAGE)}")
    print(f"  {total:5d}  total")
    rows = [(length, f"{path.relative_to(PACKAGE)}:{line} {name}")
            for path in modules for name, length, line in functions(path)]  # fmt: skip
    rows.sort(reverse=True)
    lengths = sorted(r[0] for r in rows)
    print(f"functions: {len(rows)}, median length {lengths[len(lengths) // 2]} lines")
    print(f"longest {args.longest}:")
    for length, where in rows[: args.longest]:
        print(f"  {length:4d}  {where}")
    used = private_estimator_members()
    print(f"private CollocationNeuralODE members used outside _estimator.py: {len(used)}")
    for name, where in sorted(used.items()):
        print(f"  {name}: {', '.join(sorted(where))}")


if __name__ == "__main__":
    main()
