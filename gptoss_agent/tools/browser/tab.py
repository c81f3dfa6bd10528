"""One session's place in the browser: its context, its egress proxy and its one tab.

:class:`SessionTab` holds what a session owns in Chromium; :func:`open_page` gives it a
fresh tab wired up so that a crash is noticed, dialogs are answered and popups closed
(:mod:`.guards`), and the tab's requests are tracked by an :class:`Inflight`, which lets
a load wait until the network has gone quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.tools.browser.egress import EgressProxy
from gptoss_agent.tools.browser.guards import (
    answer_dialog,
    bounded,
    close_popup,
    in_background,
)


class Inflight:
    """Tracks a page's pending requests so loading can wait for the network to go quiet."""

    def __init__(self) -> None:
        self.pending: set[Any] = set()
        self.last_change = time.monotonic()
        self.changes = 0
        self.changed = asyncio.Event()

    def started(self, request: Any) -> None:
        """A request went out (Playwright's ``request`` event)."""
        self.pending.add(request)
        self._touch()

    def ended(self, request: Any) -> None:
        """A request finished or failed."""
        self.pending.discard(request)
        self._touch()

    def reset(self) -> None:
        """Forget every pending request (a new navigation starts)."""
        self.pending.clear()
        self._touch()

    def _touch(self) -> None:
        self.changes += 1
        self.last_change = time.monotonic()
        self.changed.set()

    async def wait_quiet(self, quiet_s: float, deadline: float) -> bool:
        """Wait until no request is pending for ``quiet_s``; ``False`` at the deadline."""
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            idle_for = now - self.last_change
            if not self.pending and idle_for >= quiet_s:
                return True
            self.changed.clear()
            wait = deadline - now if self.pending else min(deadline - now, quiet_s - idle_for)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), wait)


@dataclass
class Progress:
    """How far the current navigation of a tab got, from Playwright's events.

    Attributes:
        began: ``time.monotonic()`` when the navigation was asked for.
        requested: Whether its document request went out.
        responded: When the response headers came (``None``: not yet).
        committed: Whether the new document replaced the old one.
        commit: Set when it did (what a hang watch waits for before probing).
    """

    began: float = field(default_factory=time.monotonic)
    requested: bool = False
    responded: float | None = None
    committed: bool = False
    commit: asyncio.Event = field(default_factory=asyncio.Event)

    def mark_committed(self) -> None:
        """The new document replaced the old one (Playwright's ``framenavigated``)."""
        self.committed = True
        self.commit.set()

    def stuck(self, patience_s: float) -> bool:
        """Whether the old document is holding the navigation up for ``patience_s``.

        No request after that long (a ``beforeunload`` handler still running), or a
        response that long without a commit (an unload handler still running).
        """
        now = time.monotonic()
        if not self.requested:
            return now - self.began >= patience_s
        return self.responded is not None and now - self.responded >= patience_s


@dataclass
class SessionTab:
    """What one agent session holds in Chromium.

    Attributes:
        context: The session's Playwright browser context.
        proxy: The egress proxy all of the context's traffic goes through.
        page: The session's tab, or ``None`` before the first load.
        inflight: The tab's pending requests.
        crashed: Whether the tab crashed (it is replaced before the next load).
        dialogs: The dialogs of the current load (``"alert: text"``), all dismissed.
        popups: Popup windows of the current load that were closed.
        retired: Why the tab was closed on purpose (a dialog storm), or ``None``.
        progress: How far the current navigation got.
    """

    context: Any
    proxy: EgressProxy
    page: Any = None
    inflight: Inflight = field(default_factory=Inflight)
    crashed: bool = False
    dialogs: list[str] = field(default_factory=list)
    popups: int = 0
    retired: str | None = None
    progress: Progress = field(default_factory=Progress)

    def start_load(self) -> None:
        """Forget the previous load's requests, dialogs, popups and progress."""
        self.inflight.reset()
        self.dialogs = []
        self.popups = 0
        self.progress = Progress()

    @property
    def gone(self) -> bool:
        """Whether the tab is unusable: crashed, retired, never opened, or closed."""
        return (
            self.crashed or self.retired is not None or self.page is None or self.page.is_closed()
        )


async def open_page(tab: SessionTab, *, max_dialogs: int = 10, timeout_s: float = 10.0) -> Any:
    """Open a new tab in the session's context and make it the session's page.

    Args:
        tab: The session's place in the browser.
        max_dialogs: Dialogs one load may open before the tab is retired.
        timeout_s: Limit on opening the tab, and on each dialog answer or popup close.

    Raises:
        PageUnresponsiveError: The browser did not open the tab in time.
    """
    page = await bounded(tab.context.new_page(), timeout_s, "opening a tab")
    tab.crashed = False
    tab.retired = None
    tab.inflight = Inflight()
    tab.dialogs, tab.popups = [], 0
    _Listener(tab, page, max_dialogs, timeout_s).attach()
    tab.page = page
    return page


class _Listener:
    """A tab's Playwright events, applied to the session while the tab is its current one.

    A replaced tab's late events (a dialog of a hung page being closed, a request of a
    navigation it was abandoned in) must not touch its successor's load.
    """

    def __init__(self, tab: SessionTab, page: Any, max_dialogs: int, timeout_s: float) -> None:
        self.tab, self.page, self.inflight = tab, page, tab.inflight
        self.max_dialogs, self.timeout_s = max_dialogs, timeout_s

    def attach(self) -> None:
        page = self.page
        page.on("crash", self.on_crash)
        page.on("dialog", self.on_dialog)
        page.on("popup", lambda popup: close_popup(self.tab, popup, self.timeout_s))
        page.on("request", self.on_request)
        page.on("response", self.on_response)
        page.on("framenavigated", self.on_navigated)
        page.on("requestfinished", self.inflight.ended)
        page.on("requestfailed", self.inflight.ended)

    @property
    def current(self) -> bool:
        return self.tab.page is self.page

    def is_document(self, request: Any) -> bool:
        try:
            return bool(request.is_navigation_request() and request.frame == self.page.main_frame)
        except Exception:  # a request without a frame (a worker's)
            return False

    def on_crash(self, _page: Any) -> None:
        if self.current:
            self.tab.crashed = True

    def on_request(self, request: Any) -> None:
        self.inflight.started(request)
        if self.current and self.is_document(request):
            self.tab.progress.requested = True

    def on_response(self, response: Any) -> None:
        if self.current and self.is_document(response.request):
            self.tab.progress.responded = time.monotonic()

    def on_navigated(self, frame: Any) -> None:
        if self.current and frame == self.page.main_frame:
            self.tab.progress.mark_committed()

    def on_dialog(self, dialog: Any) -> None:
        if self.current:
            answer_dialog(self.tab, dialog, self.max_dialogs, self.timeout_s)
        else:
            in_background(bounded(dialog.dismiss(), self.timeout_s, "dismissing a dialog"))
