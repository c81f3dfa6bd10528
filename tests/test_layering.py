"""The dependency direction agent -> tools -> sandbox, and where heavy imports may live."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gptoss_agent"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports (found a relative import)")
    return names


def violations(subpackage: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / subpackage).rglob("*.py")):
        for name in imported_modules(path):
            if name.startswith(forbidden):
                found.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    return found


def test_sandbox_imports_neither_tools_nor_agent() -> None:
    assert violations("sandbox", ("gptoss_agent.agent", "gptoss_agent.tools")) == []


def test_tools_never_import_agent() -> None:
    assert violations("tools", ("gptoss_agent.agent",)) == []


def test_harmony_is_imported_only_inside_agent() -> None:
    assert violations("tools", ("openai_harmony",)) == []
    assert violations("sandbox", ("openai_harmony",)) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from gptoss_agent.agent.loop import run_loop\nimport os\n")
    assert "gptoss_agent.agent.loop" in imported_modules(sample)
