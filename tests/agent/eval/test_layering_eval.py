"""Where the eval package sits: with the task layer, below the CLI, above the run.

(To move into ``tests/test_layering.py`` with the other rules.)
"""

from __future__ import annotations

from tests.test_layering import AGENT, imported_modules, run_modules, violations

EVAL = f"{AGENT}.eval"


def test_eval_never_imports_the_cli() -> None:
    assert violations("agent/eval", (f"{AGENT}.cli",)) == []


def test_nothing_below_the_cli_imports_eval() -> None:
    found = [hit for part in ("agent/task", "agent/harmony", "agent/backends",
                              "agent/finetune", "tools", "sandbox")
             for hit in violations(part, (EVAL,))]
    found += [f"{path.name} imports {name}" for path in run_modules()
              for name in imported_modules(path) if name.startswith(EVAL)]
    assert found == []


def test_eval_imports_no_heavy_library_at_module_level() -> None:
    heavy = ("torch", "transformers", "playwright", "docker", "mcp", "starlette", "uvicorn")
    assert violations("agent/eval", heavy, top_level_only=True) == []
