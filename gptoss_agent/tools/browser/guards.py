"""What a hostile page can do to its tab, kept bounded.

Every Playwright operation gets a deadline (:func:`bounded`); a pending navigation is
watched by probing the tab (:func:`watch_navigation`), so a page whose script never
yields is noticed within seconds rather than at the load limit. Dialogs are answered
(:func:`answer_dialog`: dismissed, ``beforeunload`` accepted so a navigation can
leave) and popups closed (:func:`close_popup`); past the dialog cap the tab is retired.
The tab itself is :mod:`.tab`'s; replacing it is :mod:`.chromium`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from gptoss_agent.tools.browser.errors import PageUnresponsiveError, PreviousPageStuckError

if TYPE_CHECKING:
    from gptoss_agent.tools.browser.tab import SessionTab

T = TypeVar("T")

_BACKGROUND: set[asyncio.Future[Any]] = set()
"""Answers to dialogs and popup closes in flight (kept referenced until done)."""


async def bounded(operation: Awaitable[T], seconds: float, what: str) -> T:
    """Await ``operation`` for at most ``seconds``.

    Raises:
        PageUnresponsiveError: It did not finish in time (it is cancelled).
    """
    try:
        return await asyncio.wait_for(operation, seconds)
    except TimeoutError:
        raise PageUnresponsiveError(f"{what} took longer than {seconds:g}s") from None


async def responsive(page: Any, probe_s: float) -> bool:
    """Whether the tab's document answers a trivial evaluation within ``probe_s``.

    Only meaningful once a navigation has committed: before that, Playwright (and CDP)
    hold evaluations until the next document exists.
    """
    try:
        await asyncio.wait_for(page.evaluate("1"), probe_s)
    except TimeoutError:
        return False
    except Exception:
        return True  # the document was replaced or closed meanwhile: not a hang
    return True


async def watch_navigation(
    tab: SessionTab, navigation: asyncio.Future[T], probe_s: float, *, leaving: bool
) -> T:
    """Wait for ``navigation``, checking every ``probe_s`` that it is getting anywhere.

    Slow is fine: a request waiting for its server is left to the load limit. Stuck is
    not: a request that never goes out (a ``beforeunload`` handler that never returns)
    or a response that never commits (a hung ``pagehide``) means the old page holds the
    tab; a committed document that does not answer a probe means the new page hung it.

    Args:
        tab: The tab navigating (its ``progress`` is updated by Playwright's events).
        navigation: The pending ``page.goto``.
        probe_s: How often to check, and how long a probe may go unanswered.
        leaving: Whether the tab holds a document the navigation must leave.

    Raises:
        PreviousPageStuckError: The old page would not let the navigation go.
        PageUnresponsiveError: The new document stopped answering.
    """
    while True:
        done, _ = await asyncio.wait({navigation}, timeout=probe_s)
        if done:
            return navigation.result()
        progress = tab.progress
        if progress.committed:
            if not await responsive(tab.page, probe_s):
                await _abandon(navigation)
                raise PageUnresponsiveError(
                    f"it did not answer for {probe_s:g}s: a script kept it busy"
                )
        elif leaving and progress.stuck(probe_s):
            await _abandon(navigation)
            raise PreviousPageStuckError("the previous page did not let the tab leave it")


async def _abandon(navigation: asyncio.Future[Any]) -> None:
    navigation.cancel()
    await asyncio.gather(navigation, return_exceptions=True)


def in_background(operation: Coroutine[Any, Any, Any]) -> None:
    """Run ``operation`` without waiting for it; its errors are dropped."""

    async def quietly() -> None:
        with contextlib.suppress(Exception):
            await operation

    task = asyncio.ensure_future(quietly())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def close_page(page: Any, seconds: float) -> bool:
    """Close a tab without running its ``beforeunload``; ``False`` if that timed out."""
    try:
        await asyncio.wait_for(page.close(run_before_unload=False), seconds)
    except TimeoutError:
        return False
    except Exception:
        return True  # already closed, or the browser is gone
    return True


def answer_dialog(tab: SessionTab, dialog: Any, max_dialogs: int, seconds: float) -> None:
    """Dismiss a dialog (accept ``beforeunload``); past ``max_dialogs`` retire the tab."""
    kind = str(dialog.type)
    if kind == "beforeunload":
        in_background(bounded(dialog.accept(), seconds, "accepting a dialog"))
        return
    tab.dialogs.append(f"{kind}: {str(dialog.message)[:80]}")
    in_background(bounded(dialog.dismiss(), seconds, "dismissing a dialog"))
    if len(tab.dialogs) > max_dialogs and tab.retired is None:
        tab.retired = f"opened more than {max_dialogs} dialogs"
        in_background(close_page(dialog.page if dialog.page is not None else tab.page, seconds))


def close_popup(tab: SessionTab, popup: Any, seconds: float) -> None:
    """Close a window the page opened, and count it."""
    tab.popups += 1
    in_background(close_page(popup, seconds))
