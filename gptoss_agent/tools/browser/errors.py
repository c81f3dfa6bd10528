"""The error hierarchy of the browser tool.

Every error here carries a message written for the model: the tool turns them into
``ToolResult.error`` texts, so they say what happened and what the model can do next.
"""

from __future__ import annotations

from gptoss_agent.tools.errors import ToolError


class BrowserError(ToolError):
    """Base of every error the browser tool raises; its message is model-readable."""


class BadArgumentsError(BrowserError):
    """The model's arguments could not be parsed or are out of range."""


class BlockedURLError(BrowserError):
    """A URL was refused by the safety policy (scheme, private address, allowlist)."""


class PageLoadError(BrowserError):
    """A page could not be loaded (timeout, network error, unsupported content, too big)."""


class BrowserCrashedError(PageLoadError):
    """The page or the whole browser crashed; it has been restarted."""


class SearchBackendError(BrowserError):
    """A search backend failed (unreachable, refused the key, returned garbage)."""
