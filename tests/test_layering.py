"""The dependency directions, and where heavy imports may live.

Between the three parts: ``agent -> tools -> sandbox``. Inside ``agent/``: the CLI above
tasks, tasks above the run (the modules directly in ``agent/``, and its ``context/`` and
``tool_output/``), the run above Harmony; backends never import the CLI, the task layer
or training; training never imports the CLI or tasks; the agent's HTTP app
(``agent/serve/``) and evaluation (``agent/eval/``) are imported only by the CLI and never
import it. ``openai_harmony`` is imported only inside ``agent/harmony/``; docker-py,
Playwright, torch, transformers, Starlette, uvicorn and sse-starlette only at the module
level of the modules that own them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gptoss_agent"
AGENT = "gptoss_agent.agent"


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: use absolute imports (found a relative import)")
    return names


def _files(part: str) -> list[Path]:
    folder = PACKAGE / part
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]


def violations(part: str, forbidden: tuple[str, ...], top_level_only: bool = False,
               allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in _files(part):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(allowed):
            continue
        for name in imported_modules(path, top_level_only):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{relative} imports {name}")
    return found


RUN_PACKAGES = ("context", "tool_output")
"""Folders of ``agent/`` that belong to the run (its window budget, its tool-output bounds)."""


def run_modules() -> list[Path]:
    """The run: the modules directly inside ``agent/``, and its own sub-packages."""
    modules = list((PACKAGE / "agent").glob("*.py"))
    for folder in RUN_PACKAGES:
        modules += (PACKAGE / "agent" / folder).rglob("*.py")
    return sorted(modules)


def test_sandbox_imports_neither_tools_nor_agent() -> None:
    assert violations("sandbox", ("gptoss_agent.agent", "gptoss_agent.tools")) == []


def test_tools_never_import_agent() -> None:
    assert violations("tools", (AGENT,)) == []


def test_the_run_imports_neither_tasks_nor_the_cli_nor_training() -> None:
    forbidden = (f"{AGENT}.task", f"{AGENT}.cli", f"{AGENT}.finetune")
    found = [f"{path.name} imports {name}" for path in run_modules()
             for name in imported_modules(path) if name.startswith(forbidden)]
    assert found == []


def test_tasks_never_import_the_cli() -> None:
    assert violations("agent/task", (f"{AGENT}.cli",)) == []


def test_harmony_imports_nothing_above_it() -> None:
    found = [hit for hit in violations("agent/harmony", (AGENT,))
             if not hit.endswith((f"{AGENT}.harmony", f"{AGENT}.errors"))
             and f" {AGENT}.harmony." not in hit]
    assert found == []


def test_backends_never_import_the_cli_tasks_or_training() -> None:
    forbidden = (f"{AGENT}.cli", f"{AGENT}.task", f"{AGENT}.finetune")
    assert violations("agent/backends", forbidden) == []


def test_training_never_imports_the_cli_or_tasks() -> None:
    assert violations("agent/finetune", (f"{AGENT}.cli", f"{AGENT}.task")) == []


def test_the_served_agent_and_evaluation_sit_just_below_the_cli() -> None:
    for package in ("serve", "eval"):
        name = f"{AGENT}.{package}"
        below = [hit for part in ("agent", "tools", "sandbox")
                 for hit in violations(part, (name,), allowed=(f"agent/{package}/", "agent/cli/"))]
        assert below == [], package
        assert violations(f"agent/{package}", (f"{AGENT}.cli",)) == [], package


def test_harmony_is_imported_only_inside_agent_harmony() -> None:
    found = [hit for part in ("agent", "tools", "sandbox")
             for hit in violations(part, ("openai_harmony",), allowed=("agent/harmony/",))]
    assert found == []


def test_heavy_libraries_are_imported_at_module_level_only_by_their_owners() -> None:
    owners = {
        "docker": ("sandbox/engine.py",),
        "playwright": ("tools/browser/",),
        "torch": ("agent/backends/transformers/", "agent/finetune/"),
        "transformers": ("agent/backends/transformers/", "agent/finetune/"),
        "peft": ("agent/finetune/",),
        "mcp": ("tools/mcp/",),
        "mcp_types": ("tools/mcp/",),
        "starlette": ("agent/backends/http/", "agent/serve/", "tools/mcp/"),
        "uvicorn": ("agent/backends/http/server.py", "tools/mcp/"),
        "sse_starlette": ("agent/backends/http/completions.py", "agent/serve/routes.py"),
    }
    found = [hit for library, allowed in owners.items()
             for part in ("agent", "tools", "sandbox")
             for hit in violations(part, (library,), top_level_only=True, allowed=allowed)]
    assert found == []


def test_importing_the_packages_stays_cheap() -> None:
    code = ("import sys, gptoss_agent, gptoss_agent.agent.backends, gptoss_agent.tools, "
            "gptoss_agent.sandbox, gptoss_agent.agent.cli.entry\n"
            "heavy = ('torch', 'transformers', 'docker', 'playwright', 'httpx', 'mcp', "
            "'starlette', 'uvicorn', 'sse_starlette')\n"
            "print([m for m in heavy if m in sys.modules])")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True)
    assert completed.stdout.strip() == "[]"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom gptoss_agent.agent.loop import run_loop\n"
                      "def f():\n    import torch\n")
    assert imported_modules(sample) == {"os", "gptoss_agent.agent.loop", "torch"}
    assert imported_modules(sample, top_level_only=True) == {"os", "gptoss_agent.agent.loop"}
