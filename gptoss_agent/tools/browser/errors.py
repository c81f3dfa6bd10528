"""The error hierarchy of the browser tool, under :class:`BrowserError` (a ``ToolError``).

Every error here carries a message written for the model: the tool catches them and
returns their text, so they say what happened and what the model can do next.
:class:`BadArgumentsError` means the model wrote the call itself wrongly and comes back
as ``ToolResult.invalid``; every other one is a well-formed call that failed and comes
back as ``ToolResult.error``.
"""

from __future__ import annotations

from gptoss_agent.tools.errors import ToolError


class BrowserError(ToolError):
    """Base of every error the browser tool raises; its message is model-readable."""


class BadArgumentsError(BrowserError):
    """The call is malformed: arguments that are not JSON, of the wrong type, or missing."""


class TargetNotFoundError(BrowserError):
    """A well-formed call named a cursor, link id or line that the session does not have."""


class BlockedURLError(BrowserError):
    """A URL was refused by the safety policy (scheme, private address, allowlist)."""


class PageLoadError(BrowserError):
    """A page could not be loaded (timeout, network error, unsupported content, too big)."""


class BrowserCrashedError(PageLoadError):
    """The page or the whole browser crashed; it has been restarted."""


class SearchBackendError(BrowserError):
    """A search backend failed (unreachable, refused the key, returned garbage)."""


class PageUnresponsiveError(PageLoadError):
    """A page stopped answering (a script that never yields, a dialog storm).

    Its tab was closed and replaced: the session's next load starts in a fresh one.
    """


class PreviousPageStuckError(PageUnresponsiveError):
    """The page already in the tab would not let a navigation leave it.

    A hung ``beforeunload`` or ``pagehide`` handler does this; the load is retried in a
    fresh tab, so the model never sees this error.
    """
