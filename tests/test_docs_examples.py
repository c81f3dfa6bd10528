"""Every Python block of README.md and docs/*.md runs as written, so no example can rot.

The blocks of one file run in order in one fresh interpreter, from the repository root,
sharing their names as a reader's session would. Top-level ``await`` is allowed (a
block that uses it runs in its own event loop). Blocks that need Docker or Chromium run
for real where those are present, as in CI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "CONTRIBUTING.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

RUNNER = r"""
import ast, asyncio, json, sys, traceback
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for line, source in blocks:
    code = compile(source, f"{sys.argv[2]}:{line}", "exec",
                   flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    try:
        value = eval(code, namespace)
        if asyncio.iscoroutine(value):
            asyncio.run(value)
    except BaseException:
        traceback.print_exc()
        print(f"the block at {sys.argv[2]}:{line} failed", file=sys.stderr)
        sys.exit(1)
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, source)`` of each fenced Python block of a Markdown text."""
    return [(text.count("\n", 0, match.start()) + 2, match.group(1))
            for match in BLOCK.finditer(text)]


def test_blocks_are_found_with_their_lines() -> None:
    text = "intro\n```python\nx = 1\n```\ntext\n```bash\nls\n```\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (10, "y = 2\n")]


def _with_blocks() -> list[Path]:
    return [d for d in DOCUMENTS if d.exists() and python_blocks(d.read_text(encoding="utf-8"))]


def test_the_readme_has_examples() -> None:
    assert ROOT / "README.md" in _with_blocks()


@pytest.mark.parametrize("document", _with_blocks(), ids=lambda d: d.name)
def test_python_blocks_run_as_written(document: Path, tmp_path: Path) -> None:
    blocks = python_blocks(document.read_text(encoding="utf-8"))
    data = tmp_path / "blocks.json"
    data.write_text(json.dumps(blocks))
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(data), str(document.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
