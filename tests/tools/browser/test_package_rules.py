"""Rules of the browser package: its error hierarchy and where Playwright is imported."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

from gptoss_agent.tools import browser
from gptoss_agent.tools.browser.errors import BrowserError
from gptoss_agent.tools.errors import ToolError

BROWSER_DIR = Path(browser.__file__).parent


def _modules() -> list[str]:
    """Every module of the browser package, by dotted name."""
    names = []
    for path in sorted(BROWSER_DIR.rglob("*.py")):
        parts = path.relative_to(BROWSER_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join((browser.__name__, *parts)))
    return names


def test_every_exception_derives_from_browser_error_and_only_exceptions_end_in_error() -> None:
    assert issubclass(BrowserError, ToolError)
    assert len(_modules()) > 20
    offenders = []
    for name in _modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            defined_here = getattr(value, "__module__", name) == name
            is_exception = inspect.isclass(value) and issubclass(value, BaseException)
            if is_exception and defined_here and not issubclass(value, BrowserError):
                offenders.append(f"{name}.{attribute} is not a BrowserError")
            if attribute.endswith("Error") and not is_exception:
                offenders.append(f"{name}.{attribute} ends in Error but is no exception")
    assert offenders == []


def test_playwright_is_imported_lazily_and_only_by_the_driver() -> None:
    importers = sorted(
        path.relative_to(BROWSER_DIR).as_posix()
        for path in BROWSER_DIR.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "playwright"
                                               for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "playwright")
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert importers == ["driver.py"]
    code = "import sys, gptoss_agent.tools.browser\nprint('playwright' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
