"""The Playwright session manager: one warm Chromium per process, a context per session.

:class:`ChromiumSessions` launches Debian's Chromium (``executable_path``; Playwright's
own browser download is not needed) on first use, gives each agent session a fresh
browser context whose traffic goes through that session's :class:`~.egress.EgressProxy`
(:class:`~.tab.SessionTab`), and loads URLs in the session's tab
(:func:`~.navigation.navigate`). A crashed, hung or retired tab is replaced (a load the
old page would not let go of is retried once in a fresh tab), a context that cannot
even close a tab is rebuilt, and a dead browser relaunched; the caller is told through
:class:`~.errors.BrowserCrashedError`, :class:`~.errors.PageUnresponsiveError` or
``LoadedDocument.notice``. Playwright itself is reached through :mod:`.driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from gptoss_agent.tools.browser.config import IGNORED_DEFAULT_ARGS, BrowserConfig, find_chromium
from gptoss_agent.tools.browser.documents import LoadedDocument
from gptoss_agent.tools.browser.driver import kill_driver, playwright_api
from gptoss_agent.tools.browser.egress import EgressProxy, RefuseAll
from gptoss_agent.tools.browser.errors import PageUnresponsiveError, PreviousPageStuckError
from gptoss_agent.tools.browser.guards import Reference, bounded, close_page, in_background
from gptoss_agent.tools.browser.navigation import navigate
from gptoss_agent.tools.browser.niceness import launcher
from gptoss_agent.tools.browser.policy import UrlPolicy
from gptoss_agent.tools.browser.tab import SessionTab, open_page
from gptoss_agent.tools.errors import ToolUnavailableError

log = logging.getLogger(__name__)

BROWSER_RESTARTED = "The browser had stopped and was restarted; earlier pages stay readable."
TAB_REPLACED = "The previous tab crashed and was replaced by a new one."
STUCK_PAGE_LEFT = (
    "The previous page would not let the tab leave it (a script in its unload handlers "
    "kept it busy), so this page was opened in a fresh tab."
)


class ChromiumSessions:
    """Owns the Playwright driver, the browser, and one context per agent session."""

    def __init__(self, config: BrowserConfig, policy: UrlPolicy) -> None:
        """Prepare; nothing is launched until the first load.

        Args:
            config: Browser settings (executable, caps, timeouts).
            policy: The safety policy every session's egress proxy enforces.
        """
        self._config = config
        self._policy = policy
        self._playwright: Any = None
        self._browser: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessions: dict[str, SessionTab] = {}
        self._launch_lock = asyncio.Lock()
        self._browser_lost = False
        self._sink: EgressProxy | None = None
        self._reference: Reference | None = None
        self._launcher: Path | None = None  # a folder holding the niced launcher
        self.launches = 0

    @property
    def executable_path(self) -> str | None:
        """The Chromium this manager launches (``None``: Playwright's default)."""
        return find_chromium(self._config.executable_path, headless=self._config.headless)

    def _connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def ensure_browser(self) -> Any:
        """Start Playwright and launch Chromium if they are not running.

        Raises:
            ToolUnavailableError: Playwright is missing or Chromium cannot be started.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            # Playwright objects are bound to the loop that created them.
            self._playwright = self._browser = self._sink = self._reference = None
            self._sessions.clear()
            self._launch_lock = asyncio.Lock()
        self._loop = loop
        if self._connected():
            return self._browser
        async with self._launch_lock:
            if self._connected():
                return self._browser
            if self._browser is not None:
                self._browser_lost = True
                self._browser = None
                await self._drop_sessions()
            self._browser = await self._launch()
            self._reference = Reference(self._browser, self._limit)  # opened when needed
            self.launches += 1
            return self._browser

    @property
    def stray_requests(self) -> tuple[str, ...]:
        """What Chromium asked for on its own, outside every session (all refused).

        Chromium's browser-wide proxy is a sink that refuses everything, so its own
        background requests (updates, sign-in checks) reach no network.
        """
        return () if self._sink is None else tuple(self._sink.requested)

    async def _launch(self) -> Any:
        api = playwright_api()
        if self._sink is None:
            self._sink = EgressProxy(RefuseAll())
            await self._sink.start()
        try:
            if self._playwright is None:
                self._playwright = await api.async_playwright().start()
            return await self._playwright.chromium.launch(
                executable_path=self._executable(),
                headless=self._config.headless,
                args=self._config.chromium_args(),
                proxy={"server": self._sink.url, "bypass": "<-loopback>"},
                ignore_default_args=list(IGNORED_DEFAULT_ARGS),
                timeout=self._config.launch_timeout_s * 1000,
            )
        except Exception as exc:
            raise ToolUnavailableError(
                f"The browser is unavailable: Chromium could not be started ({exc})."
            ) from exc

    def _executable(self) -> str | None:
        """What Playwright starts: Chromium, through a niced launcher when configured."""
        executable, nice = self.executable_path, self._config.nice
        if executable is None or not nice:
            return executable
        if self._launcher is None:
            self._launcher = Path(tempfile.mkdtemp(prefix="gptoss-chromium-"))
        return str(launcher(executable, nice, self._launcher))

    async def _tab(self, session_id: str) -> tuple[SessionTab, str | None]:
        """The session's context and tab, created or recovered as needed, and a notice."""
        notice = None
        await self.ensure_browser()
        if self._browser_lost:
            self._browser_lost = False
            notice = BROWSER_RESTARTED
        tab = self._sessions.get(session_id)
        if tab is None:
            tab = await self._new_tab()
            self._sessions[session_id] = tab
        if tab.gone:
            if tab.crashed:
                notice = TAB_REPLACED
            if tab.page is not None and not tab.page.is_closed():
                in_background(close_page(tab.page, self._limit))  # a hung one takes a while
            try:
                await open_page(tab, max_dialogs=self._config.max_dialogs, timeout_s=self._limit)
            except PageUnresponsiveError:
                await self.close_session(session_id)  # the context no longer answers
                tab = await self._new_tab()
                self._sessions[session_id] = tab
                await open_page(tab, max_dialogs=self._config.max_dialogs, timeout_s=self._limit)
        return tab, notice

    @property
    def _limit(self) -> float:
        return self._config.operation_timeout_s

    async def _new_tab(self) -> SessionTab:
        """A fresh context behind a fresh egress proxy (the tab opens on first load)."""
        proxy = EgressProxy(
            self._policy,
            max_response_bytes=self._config.max_response_bytes,
            connect_timeout_s=min(10.0, self._config.load_timeout_s),
        )
        await proxy.start()
        try:
            context = await bounded(
                self._browser.new_context(
                    proxy={"server": proxy.url, "bypass": "<-loopback>"},
                    accept_downloads=False,
                    service_workers="block",
                    user_agent=self._config.user_agent,
                    viewport={"width": 1280, "height": 1600},
                    locale="en-US",
                ),
                self._limit,
                "opening a browser context",
            )
        except Exception:
            await proxy.aclose()
            raise
        context.set_default_timeout(self._config.load_timeout_s * 1000)
        return SessionTab(context=context, proxy=proxy)

    @property
    def playwright(self) -> Any:
        """The started Playwright, or ``None`` (for diagnostics and tests)."""
        return self._playwright

    def page_of(self, session_id: str) -> Any:
        """The live Playwright page of a session, or ``None`` (for diagnostics and tests)."""
        tab = self._sessions.get(session_id)
        return None if tab is None else tab.page

    def proxy_of(self, session_id: str) -> EgressProxy | None:
        """The egress proxy of a session, or ``None``."""
        tab = self._sessions.get(session_id)
        return None if tab is None else tab.proxy

    async def load(self, session_id: str, url: str, *, view_source: bool = False) -> LoadedDocument:
        """Navigate the session's tab to ``url`` and collect the document.

        Raises:
            BlockedURLError: The URL, or a redirect hop of it, was refused.
            PageLoadError: Timeout, network error, download, unsupported content, too big.
            BrowserCrashedError: The tab or browser died during the load (it was replaced).
            ToolUnavailableError: Chromium cannot be started at all.
        """
        tab, notice = await self._tab(session_id)
        try:
            return await self._navigate(tab, url, view_source, notice)
        except PreviousPageStuckError:
            tab, notice = await self._tab(session_id)
            notice = " ".join(n for n in (notice, STUCK_PAGE_LEFT) if n)
            return await self._navigate(tab, url, view_source, notice)

    async def _navigate(
        self, tab: SessionTab, url: str, view_source: bool, notice: str | None
    ) -> LoadedDocument:
        """One navigation; a tab that stopped answering is retired and closed at once.

        Closing it (never running ``beforeunload``) is what ends a hung renderer, which
        otherwise keeps a core busy until the session's next load.
        """
        try:
            return await navigate(
                tab,
                url,
                self._config,
                view_source=view_source,
                notice=notice,
                reference=self._reference,
            )
        except PageUnresponsiveError:
            tab.retired = tab.retired or "stopped responding"
            raise
        finally:
            if tab.retired is not None and tab.page is not None and not tab.page.is_closed():
                in_background(close_page(tab.page, self._limit))

    async def close_session(self, session_id: str) -> None:
        """Close a session's context and proxy (its page stack is kept by the tool)."""
        tab = self._sessions.pop(session_id, None)
        if tab is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tab.context.close(), self._limit)
            await tab.proxy.aclose()

    async def _drop_sessions(self) -> None:
        for session_id in list(self._sessions):
            await self.close_session(session_id)

    async def aclose(self) -> None:
        """Close every context, the browser and the driver. Idempotent.

        Each step has the operation deadline: a browser that does not close in time is
        left to the driver, and a driver that does not stop in time is killed
        (:func:`~.driver.kill_driver`), so a hung Chromium never hangs the close.
        """
        await self._drop_sessions()
        reference, self._reference = self._reference, None
        if reference is not None:
            await reference.aclose()
        browser, self._browser = self._browser, None
        if browser is not None:
            await _within(browser.close(), self._limit, "closing Chromium")
        playwright, self._playwright = self._playwright, None
        if playwright is not None and not await _within(
            playwright.stop(), self._limit, "stopping the Playwright driver"
        ):
            kill_driver(playwright)
        sink, self._sink = self._sink, None
        if sink is not None:
            await sink.aclose()
        folder, self._launcher = self._launcher, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


async def _within(operation: Coroutine[Any, Any, Any], seconds: float, what: str) -> bool:
    """Await ``operation`` for at most ``seconds``; ``False`` if it timed out (cancelled).

    Its errors are dropped (a browser already gone cannot be closed again).
    """
    try:
        await asyncio.wait_for(operation, seconds)
    except TimeoutError:
        log.warning("%s took longer than %gs; moving on", what, seconds)
        return False
    except Exception:
        log.debug("%s failed", what, exc_info=True)
    return True
