"""The one module that imports Playwright (lazily, on first use).

Everything else reaches Playwright's API through :func:`playwright_api`, so the import
happens once, only when a page is actually loaded, and its absence is reported as a
:class:`~gptoss_agent.tools.errors.ToolUnavailableError` rather than an ``ImportError``.
:func:`kill_driver` is the last resort when the driver does not stop when asked.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from gptoss_agent.tools.errors import ToolUnavailableError

log = logging.getLogger(__name__)


def playwright_api() -> Any:
    """``playwright.async_api`` (its ``async_playwright``, ``Error``, ``TimeoutError``).

    Raises:
        ToolUnavailableError: The playwright package is not installed.
    """
    try:
        from playwright import async_api
    except ImportError as exc:
        raise ToolUnavailableError(
            "The browser is unavailable: the playwright package is not installed."
        ) from exc
    return async_api


def driver_process(playwright: Any) -> Any:
    """The driver subprocess (``asyncio.subprocess.Process``) behind a started Playwright.

    Playwright has no public handle on it, so this follows its internals (the context
    manager that ``stop`` is bound to, its client or connection, the pipe transport);
    ``None`` when a Playwright version keeps them elsewhere.
    """
    manager = getattr(getattr(playwright, "stop", None), "__self__", None)
    for holder in ("_client", "_connection"):
        transport = getattr(getattr(manager, holder, None), "_transport", None)
        process = getattr(transport, "_proc", None)
        if process is not None and hasattr(process, "kill"):
            return process
    return None


def kill_driver(playwright: Any) -> bool:
    """Kill the Playwright driver that did not stop in time; ``False`` if not found.

    Chromium, started over the driver's pipe, exits once that pipe closes.
    """
    process = driver_process(playwright)
    if process is None or process.returncode is not None:
        return False
    log.warning("the Playwright driver (pid %s) did not stop in time; killing it", process.pid)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    return True
