"""The ``browser`` tool: ``search``, ``open`` and ``find`` over a per-session page stack.

:class:`BrowserTool` implements the ``Tool``, ``StatefulTool``, ``SessionScopedTool``
and ``FinalReviewer`` protocols of :mod:`gptoss_agent.tools.base`. It parses the model's
arguments (:mod:`.arguments`), runs the function (:mod:`.functions`) on the session's
:class:`~.page.PageStack`, one call per session at a time, and turns every failure into
a result, so the run never crashes on a browser error: a call the model wrote wrongly
comes back as ``ToolResult.invalid``, any other failure (a blocked URL, a timeout, a
missing cursor, a broken search backend, a browser that cannot start) as
``ToolResult.error``, both with a readable message. Its review of a final answer is the
citation check (:mod:`.citations`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.browser.arguments import FUNCTIONS, parse_arguments
from gptoss_agent.tools.browser.chromium import ChromiumSessions
from gptoss_agent.tools.browser.citations import check_citations
from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.errors import BadArgumentsError, BrowserError
from gptoss_agent.tools.browser.functions import BrowserFunctions
from gptoss_agent.tools.browser.page import PageStack
from gptoss_agent.tools.browser.policy import (
    Allowlist,
    HostResolver,
    MappedResolver,
    SystemResolver,
    UrlPolicy,
)
from gptoss_agent.tools.browser.search.base import SearchBackend
from gptoss_agent.tools.browser.spec import BROWSER_SPEC
from gptoss_agent.tools.errors import ToolUnavailableError

log = logging.getLogger(__name__)


class BrowserTool:
    """gpt-oss's built-in ``browser`` tool on a real headless Chromium.

    Attributes:
        review_key: Where the loop stores :meth:`review_final`'s report (``citations``).
    """

    review_key: str = "citations"
    pages_own_output: bool = True
    """Results are pages the model scrolls itself (``cursor``/``loc``): never cut."""
    idempotent: bool = True
    """Searching and reading pages change nothing: a lost call may run again on resume."""

    def __init__(
        self,
        backend: SearchBackend | None = None,
        config: BrowserConfig | None = None,
        *,
        policy: UrlPolicy | None = None,
    ) -> None:
        """Create the tool; Chromium starts on the first page load, not here.

        Args:
            backend: Answers ``browser.search``; ``None`` makes search report that no
                backend is configured (``open`` with URLs still works).
            config: Browser settings; defaults are fine for the open web.
            policy: The safety policy; by default built from ``config.allowlist``,
                ``config.host_map`` and ``config.resolve``.
        """
        self._config = config or BrowserConfig()
        self._policy = policy or UrlPolicy(
            allowlist=Allowlist.parse(self._config.allowlist),
            resolver=config_resolver(self._config),
        )
        self._backend = backend
        self._chromium = ChromiumSessions(self._config, self._policy)
        self._functions = BrowserFunctions(self._config, self._policy, self._chromium, backend)
        self._stacks: dict[str, PageStack] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- Tool protocol ---------------------------------------------------------------

    @property
    def spec(self) -> NamespaceSpec:
        """The trained ``browser`` namespace (search, open, find)."""
        return BROWSER_SPEC

    @property
    def config(self) -> BrowserConfig:
        """The settings this tool runs with."""
        return self._config

    @property
    def policy(self) -> UrlPolicy:
        """The safety policy every page load is checked against (its resolver included)."""
        return self._policy

    @property
    def backend(self) -> SearchBackend | None:
        """The search backend, if one is configured."""
        return self._backend

    @property
    def chromium(self) -> ChromiumSessions:
        """The browser manager (for diagnostics, benchmarks and tests)."""
        return self._chromium

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run ``browser.search`` / ``browser.open`` / ``browser.find``; never raises."""
        if call.name not in FUNCTIONS:
            return ToolResult.invalid(
                f"Unknown function browser.{call.name}; the browser has "
                + ", ".join(f"browser.{name}" for name in FUNCTIONS)
                + ".",
                error=BadArgumentsError.__name__,
            )
        lock = self._locks.setdefault(context.session_id, asyncio.Lock())
        async with lock:
            try:
                return await self._run(call.name, call.arguments, context.session_id)
            except BadArgumentsError as exc:
                return ToolResult.invalid(str(exc), error=type(exc).__name__)
            except (BrowserError, ToolUnavailableError) as exc:
                return ToolResult.error(str(exc), error=type(exc).__name__)

    async def _run(self, name: str, arguments: str, session_id: str) -> ToolResult:
        """One function on the session's stack; anything unexpected becomes an error."""
        args = parse_arguments(arguments, name)
        stack = self._stacks.setdefault(session_id, PageStack())
        try:
            if name == "search":
                return await self._functions.search(args, stack)
            if name == "open":
                return await self._functions.open(args, stack, session_id)
            return self._functions.find(args, stack)
        except (BrowserError, ToolUnavailableError):
            raise
        except Exception as exc:
            log.exception("browser.%s failed", name)  # the model must get an answer
            return ToolResult.error(
                f"The browser failed unexpectedly ({type(exc).__name__}: {exc}).",
                error=type(exc).__name__,
            )

    async def aclose(self) -> None:
        """Close every browser context, Chromium, and the search backend. Idempotent."""
        await self._chromium.aclose()
        if self._backend is not None:
            await self._backend.aclose()

    # -- StatefulTool and SessionScopedTool protocols --------------------------------

    def snapshot(self, session_id: str) -> Mapping[str, Any]:
        """The session's page stack as JSON-serialisable data."""
        stack = self._stacks.get(session_id)
        return stack.snapshot() if stack is not None else {}

    def restore(self, session_id: str, state: Mapping[str, Any]) -> None:
        """Load a page stack saved by :meth:`snapshot`; earlier cursors resolve again."""
        self._stacks[session_id] = PageStack.restore(state) if state else PageStack()

    async def close_session(self, session_id: str) -> None:
        """Free the session's browser context; its page stack is kept for citations."""
        await self._chromium.close_session(session_id)

    def stack(self, session_id: str) -> PageStack | None:
        """The session's page stack, if it has browsed."""
        return self._stacks.get(session_id)

    # -- FinalReviewer protocol ------------------------------------------------------

    def review_final(self, session_id: str, text: str) -> Mapping[str, Any] | None:
        """The citation report of a final answer, or ``None`` when it cites nothing.

        Every ``【cursor†Lx-Ly】`` is resolved against the session's page stack and
        checked against the lines the model was shown (:func:`~.citations.check_citations`).
        """
        if "【" not in text:
            return None
        report = check_citations(text, self._stacks.get(session_id))
        return report.to_json() if report.citations else None


def config_resolver(config: BrowserConfig) -> HostResolver:
    """The resolver ``config.resolve`` names, over ``config.host_map``."""
    if config.resolve == "map":
        return MappedResolver(config.host_map)
    return SystemResolver(config.host_map)
