"""One session's place in the browser: its context, its egress proxy and its one tab.

:class:`SessionTab` holds what a session owns in Chromium; :func:`open_page` gives it a
fresh tab wired up so that a crash is noticed and the tab's requests are tracked by an
:class:`Inflight`, which lets a load wait until the network has gone quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.tools.browser.egress import EgressProxy


class Inflight:
    """Tracks a page's pending requests so loading can wait for the network to go quiet."""

    def __init__(self) -> None:
        self.pending: set[Any] = set()
        self.last_change = time.monotonic()
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
class SessionTab:
    """What one agent session holds in Chromium.

    Attributes:
        context: The session's Playwright browser context.
        proxy: The egress proxy all of the context's traffic goes through.
        page: The session's tab, or ``None`` before the first load.
        inflight: The tab's pending requests.
        crashed: Whether the tab crashed (it is replaced before the next load).
    """

    context: Any
    proxy: EgressProxy
    page: Any = None
    inflight: Inflight = field(default_factory=Inflight)
    crashed: bool = False

    @property
    def gone(self) -> bool:
        """Whether the tab is unusable: crashed, never opened, or closed."""
        return self.crashed or self.page is None or self.page.is_closed()


async def open_page(tab: SessionTab) -> Any:
    """Open a new tab in the session's context and make it the session's page."""
    page = await tab.context.new_page()
    tab.crashed = False
    tab.inflight = Inflight()
    inflight = tab.inflight

    def on_crash(_page: Any) -> None:
        tab.crashed = True

    page.on("crash", on_crash)
    page.on("request", inflight.started)
    page.on("requestfinished", inflight.ended)
    page.on("requestfailed", inflight.ended)
    tab.page = page
    return page
