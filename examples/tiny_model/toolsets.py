"""The tools of each family, in two flavours: offline (for data generation on any machine)
and real (Docker sandbox, Chromium; for end-to-end tests and demos).

Offline tools are the *real* tool classes with their infrastructure swapped: the
:class:`~gptoss_agent.tools.python_tool.PythonTool` runs on :class:`ArithmeticSandbox`
(which evaluates arithmetic the way the notebook does: the ``repr`` of the trailing
expression), and the :class:`~gptoss_agent.tools.browser.tool.BrowserTool` reads pages from
:class:`PageSource` (the HTML goes through the same ``html_to_page`` conversion a Chromium
page goes through). So the tool output text the model trains on is rendered by the code
that renders it at inference time.
"""

from __future__ import annotations

import ast
import operator
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from examples.tiny_model.families import get_stock
from gptoss_agent.sandbox.results import ExceptionInfo, ExecutionResult, ExecutionStatus
from gptoss_agent.tools.browser.errors import PageLoadError
from gptoss_agent.tools.browser.html_text import html_to_page
from gptoss_agent.tools.browser.page import Page
from gptoss_agent.tools.browser.search.base import SearchHit
from gptoss_agent.tools.browser.tool import BrowserTool
from gptoss_agent.tools.function import function_tool
from gptoss_agent.tools.python_tool import PythonTool

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _evaluate(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return int(_BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("only integer + - * is supported")


class ArithmeticSandbox:
    """A :class:`~gptoss_agent.sandbox.base.Sandbox` that evaluates integer arithmetic.

    It answers like the notebook: the ``repr`` of the expression's value, or a
    ``SyntaxError``/``ValueError`` result for anything else.
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir

    @property
    def data_dir(self) -> Path:
        """The (unused) drive folder."""
        return self._data_dir

    @property
    def timeout_s(self) -> float:
        """Nominal deadline."""
        return 120.0

    @property
    def network(self) -> bool:
        """No network."""
        return False

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Evaluate ``code`` as one arithmetic expression."""
        try:
            value = _evaluate(ast.parse(code.strip(), mode="eval").body)
        except (SyntaxError, ValueError) as exc:
            name = type(exc).__name__
            return ExecutionResult(
                ExecutionStatus.ERROR, error=ExceptionInfo(name, str(exc), f"{name}: {exc}")
            )
        return ExecutionResult(ExecutionStatus.OK, value=repr(value))

    async def close(self) -> None:
        """Nothing to close."""


class PageSource:
    """A browser document source serving fixed HTML pages by URL (no Chromium).

    Args:
        pages: ``{url: html}``.
    """

    def __init__(self, pages: Mapping[str, str] | None = None) -> None:
        self.pages: dict[str, str] = dict(pages or {})

    @property
    def name(self) -> str:
        """``pages``."""
        return "pages"

    def owns(self, url: str) -> bool:
        """Whether the page is one of ours."""
        return url in self.pages

    async def load(self, url: str) -> Page:
        """The page, converted as a Chromium-loaded page is."""
        if url not in self.pages:
            raise PageLoadError(f"no page at {url}")
        return html_to_page(self.pages[url], url)

    async def search(self, query: str, topn: int) -> Sequence[SearchHit]:
        """No search: these pages are opened by URL."""
        return []

    async def aclose(self) -> None:
        """Nothing to free."""


def stock_tool() -> Any:
    """``functions.get_stock``, the function tool of the ``function`` family."""
    return function_tool(get_stock)


def offline_tools(family: str, pages: PageSource | None = None,
                  folder: Path | None = None) -> list[Any]:
    """The tools of ``family`` with offline infrastructure.

    Args:
        family: ``python``, ``function`` or ``browser``.
        pages: The page source for the browser family.
        folder: The python family's drives (the caller removes it); default a new
            temporary folder.
    """
    if family == "python":
        folder = folder or Path(tempfile.mkdtemp(prefix="tiny-model-py-"))
        return [PythonTool(data_dir=folder,
                           sandbox_factory=lambda _sid, path: ArithmeticSandbox(path))]
    if family == "function":
        return [stock_tool()]
    if family == "browser":
        return [BrowserTool(backend=pages or PageSource())]
    raise ValueError(f"unknown family {family!r}")
