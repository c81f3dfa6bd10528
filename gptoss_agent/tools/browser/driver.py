"""The one module that imports Playwright (lazily, on first use).

Everything else reaches Playwright's API through :func:`playwright_api`, so the import
happens once, only when a page is actually loaded, and its absence is reported as a
:class:`~gptoss_agent.tools.errors.ToolUnavailableError` rather than an ``ImportError``.
"""

from __future__ import annotations

from typing import Any

from gptoss_agent.tools.errors import ToolUnavailableError


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
