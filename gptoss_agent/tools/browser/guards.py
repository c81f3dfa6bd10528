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
import time
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


HANG_MISSES = 2
"""Probe periods a tab must stay silent, each confirmed by the reference, to count as hung."""


class Reference:
    """A known-good tab of the same browser, to tell a hung tab from a slow machine.

    A blank page in a browser context of its own, so in a renderer of its own. When it
    answers a probe sent *after* a silent tab's, this process, the Playwright driver,
    the browser and the scheduler are all delivering, and only the silent tab is not;
    when it does not answer either, the whole machine is slow and nothing is judged.
    Opened on first use (only a silent tab needs it), reopened if it is ever gone.
    """

    def __init__(self, browser: Any, timeout_s: float) -> None:
        """Args: the Playwright browser to open it in; the limit on opening it."""
        self._browser = browser
        self._timeout_s = timeout_s
        self._page: Any = None
        self._lock = asyncio.Lock()
        self.probes = 0

    async def _open(self) -> Any:
        async with self._lock:
            if self._page is None or self._page.is_closed():
                context = await bounded(
                    self._browser.new_context(), self._timeout_s, "opening the reference"
                )
                try:
                    self._page = await bounded(context.new_page(), self._timeout_s, "a tab")
                except Exception:
                    in_background(context.close())
                    raise
            return self._page

    async def answers(self) -> bool:
        """Probe the reference tab; ``True`` once it answered, ``False`` if it cannot.

        The probe has the operation deadline: a reference that does not answer in time
        counts as not answering, and is closed (in the background) and reopened next time.
        """
        self.probes += 1
        try:
            page = await self._open()
            await bounded(page.evaluate("1"), self._timeout_s, "probing the reference")
        except Exception:
            page, self._page = self._page, None
            if page is not None:
                in_background(self._close(page))
            return False
        return True

    async def aclose(self) -> None:
        """Close the reference's context (it is reopened if used again)."""
        page, self._page = self._page, None
        if page is not None:
            await self._close(page)

    async def _close(self, page: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(page.context.close(), self._timeout_s)


async def watch_navigation(
    tab: SessionTab,
    navigation: asyncio.Future[T],
    probe_s: float,
    *,
    leaving: bool,
    reference: Reference | None = None,
) -> T:
    """Wait for ``navigation`` while checking that the tab is getting anywhere.

    Slow is fine: a request waiting for its server is left to the load limit, and a
    page that answers late is alive. Stuck is not: a request that never goes out (a
    ``beforeunload`` handler that never returns) or a response that never commits (a
    hung ``pagehide``) means the old page holds the tab; a committed document that
    leaves a probe unanswered means the new page hung it. Either counts only after
    :data:`HANG_MISSES` periods of ``probe_s``, each confirmed by ``reference``
    answering meanwhile (without one, each period counts).

    Raises:
        PreviousPageStuckError: The old page would not let the navigation go.
        PageUnresponsiveError: The new document stopped answering.
    """
    watcher = asyncio.ensure_future(_watch(tab, probe_s, leaving, reference))
    either: set[asyncio.Future[Any]] = {navigation, watcher}
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        await _abandon(navigation)
        raise
    finally:
        await _abandon(watcher)
    if navigation.done():
        return navigation.result()
    await _abandon(navigation)
    raise watcher.exception() or PageUnresponsiveError("the tab stopped answering")


async def _watch(
    tab: SessionTab, probe_s: float, leaving: bool, reference: Reference | None
) -> None:
    """Return (raising) once the tab is judged hung or stuck; run while it shows life.

    One probe at a time, sent as soon as the document commits and never cancelled: a
    slow page answers it late, a hung one never does. Each period of ``probe_s`` the
    tab stays silent (or, before the commit, stuck) is a miss once the reference has
    answered meanwhile (asked halfway through a silent period, so after the tab's
    probe, and in time); a sign of life starts the count again.
    """
    probe: asyncio.Future[None] | None = None
    misses = 0
    try:
        while misses < HANG_MISSES:
            if probe is None and tab.progress.committed:
                probe = asyncio.ensure_future(_ask(tab.page))
            began, asked = time.monotonic(), None
            if probe is not None:
                await asyncio.wait({probe}, timeout=probe_s / 2)
                if not probe.done() and reference is not None:
                    asked = asyncio.ensure_future(reference.answers())
                    await asyncio.wait({probe}, timeout=began + probe_s - time.monotonic())
                if probe.done():  # it answered: alive; ask again next period
                    probe, misses = None, 0
                    await asyncio.sleep(max(0.0, began + probe_s - time.monotonic()))
                    continue
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tab.progress.commit.wait(), probe_s)
                if tab.progress.committed or not (leaving and tab.progress.stuck(probe_s)):
                    misses = 0
                    continue
            if await _confirmed(reference, probe, asked):
                misses += 1
    finally:
        if probe is not None:
            probe.cancel()
    if probe is None:
        raise PreviousPageStuckError("the previous page did not let the tab leave it")
    raise PageUnresponsiveError(
        f"it did not answer for {HANG_MISSES * probe_s:g}s while other tabs did: a script "
        "kept it busy"
    )


async def _ask(page: Any) -> None:
    """A trivial evaluation; it returns once the document answers (or is gone)."""
    with contextlib.suppress(Exception):  # replaced or closed meanwhile: not a hang
        await page.evaluate("1")


async def _confirmed(
    reference: Reference | None,
    probe: asyncio.Future[None] | None,
    asked: asyncio.Future[bool] | None,
) -> bool:
    """Whether the reference answered (``asked``: already asked) while ``probe`` did not."""
    if reference is None:
        return True
    if asked is None:
        asked = asyncio.ensure_future(reference.answers())
    try:
        waits: set[asyncio.Future[Any]] = {asked} if probe is None else {asked, probe}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not asked.done():  # not cancelled: that could leave a half-opened reference
            _BACKGROUND.add(asked)
            asked.add_done_callback(_BACKGROUND.discard)
    answered = asked.done() and not asked.cancelled() and asked.result()
    return bool(answered) and (probe is None or not probe.done())


async def _abandon(future: asyncio.Future[Any]) -> None:
    future.cancel()
    await asyncio.gather(future, return_exceptions=True)


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
