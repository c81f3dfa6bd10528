"""The size budget: every function under 80 lines, every module under 400 lines.

The in-container kernel is the one exception: it is copied into the sandbox as a single
file and may import nothing of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gptoss_agent"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400
MODULE_EXCEPTIONS = {"sandbox/kernel.py"}


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE)) if path.is_relative_to(PACKAGE) else path.name


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length >= limit:
                found.append(f"{_name(path)}:{node.lineno} {node.name} "
                             f"({length} lines)")
    return found


def long_module(path: Path, limit: int = MAX_MODULE_LINES) -> str | None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    return f"{_name(path)} ({lines} lines)" if lines >= limit else None


def test_every_function_is_under_80_lines() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in long_functions(path)]
    assert found == []


def test_every_module_is_under_400_lines() -> None:
    found = [long_module(path) for path in sorted(PACKAGE.rglob("*.py"))
             if path.relative_to(PACKAGE).as_posix() not in MODULE_EXCEPTIONS]
    assert [hit for hit in found if hit] == []


def test_the_size_checks_see_a_long_function(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample.write_text(f"def big():\n{body}\n\n\ndef small():\n    return 1\n")
    assert long_functions(sample) == ["sample.py:1 big (81 lines)"]
    assert long_module(sample, limit=10) == "sample.py (85 lines)"
    assert long_module(sample) is None
