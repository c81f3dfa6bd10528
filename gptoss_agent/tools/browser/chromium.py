"""The Playwright session manager: one warm Chromium per process, a context per session.

This is the only module that imports Playwright (lazily, on first use). It launches
Debian's Chromium (``executable_path``; Playwright's own browser download is not
needed), gives each agent session a fresh browser context whose traffic goes through
that session's :class:`~.egress.EgressProxy`, loads URLs with a load-time cap, waits for
JavaScript-driven requests to settle, and hands back what was loaded
(:class:`LoadedDocument`). A crashed tab is replaced and a dead browser relaunched; the
caller is told through :class:`~.errors.BrowserCrashedError` or ``LoadedDocument.notice``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.tools.browser.config import BrowserConfig, find_chromium
from gptoss_agent.tools.browser.egress import BLOCK_HEADER, BlockedRequest, EgressProxy
from gptoss_agent.tools.browser.errors import (
    BlockedURLError,
    BrowserCrashedError,
    PageLoadError,
)
from gptoss_agent.tools.browser.pdf_text import is_pdf
from gptoss_agent.tools.browser.policy import UrlPolicy
from gptoss_agent.tools.errors import ToolUnavailableError

log = logging.getLogger(__name__)

_BINARY_PREFIXES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/octet-stream",
    "application/zip",
    "application/x-",
    "application/vnd.",
)
_CRASH_MARKERS = ("crash", "Target closed", "has been closed", "Target page, context or browser")


@dataclass(frozen=True)
class LoadedDocument:
    """What a navigation produced.

    Attributes:
        requested_url: The URL asked for.
        url: The final URL after redirects.
        status: HTTP status of the final response (``None`` if unknown).
        content_type: Its ``Content-Type``.
        title: The document title from the browser (may be empty).
        html: The rendered DOM for HTML and text documents.
        pdf: The bytes of a PDF document.
        source: The response body as served, for ``view_source``.
        truncated: Whether ``html``/``source`` was cut to the size cap.
        blocked: Requests of this page that the egress proxy refused or cut off.
        redirected: Whether redirects were followed.
        notice: A note for the model (e.g. the browser was restarted first).
        elapsed_ms: Wall time of the load.
    """

    requested_url: str
    url: str
    status: int | None
    content_type: str
    title: str = ""
    html: str | None = None
    pdf: bytes | None = None
    source: str | None = None
    truncated: bool = False
    blocked: tuple[BlockedRequest, ...] = ()
    redirected: bool = False
    notice: str | None = None
    elapsed_ms: float = 0.0


class _Inflight:
    """Tracks a page's pending requests so loading can wait for the network to go quiet."""

    def __init__(self) -> None:
        self.pending: set[Any] = set()
        self.last_change = time.monotonic()
        self.changed = asyncio.Event()

    def started(self, request: Any) -> None:
        self.pending.add(request)
        self._touch()

    def ended(self, request: Any) -> None:
        self.pending.discard(request)
        self._touch()

    def reset(self) -> None:
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
class _Session:
    context: Any
    proxy: EgressProxy
    page: Any = None
    inflight: _Inflight = field(default_factory=_Inflight)
    crashed: bool = False


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
        self._sessions: dict[str, _Session] = {}
        self._launch_lock = asyncio.Lock()
        self._browser_lost = False
        self.launches = 0

    @property
    def executable_path(self) -> str | None:
        """The Chromium this manager launches (``None``: Playwright's default)."""
        return find_chromium(self._config.executable_path)

    async def ensure_browser(self) -> Any:
        """Start Playwright and launch Chromium if they are not running."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            # Playwright objects are bound to the loop that created them.
            self._playwright = self._browser = None
            self._sessions.clear()
            self._launch_lock = asyncio.Lock()
        self._loop = loop
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                self._browser_lost = True
                self._browser = None
                await self._drop_sessions()
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:
                raise ToolUnavailableError(
                    "The browser is unavailable: the playwright package is not installed."
                ) from exc
            try:
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                executable = self.executable_path
                self._browser = await self._playwright.chromium.launch(
                    executable_path=executable,
                    headless=self._config.headless,
                    args=self._config.chromium_args(),
                    timeout=self._config.launch_timeout_s * 1000,
                )
            except Exception as exc:
                raise ToolUnavailableError(
                    f"The browser is unavailable: Chromium could not be started ({exc})."
                ) from exc
            self.launches += 1
            return self._browser

    async def _session(self, session_id: str) -> tuple[_Session, str | None]:
        """The session's context and page, created or recovered as needed."""
        notice = None
        await self.ensure_browser()
        if self._browser_lost:
            self._browser_lost = False
            notice = "The browser had stopped and was restarted; earlier pages stay readable."
        session = self._sessions.get(session_id)
        if session is None:
            proxy = EgressProxy(
                self._policy,
                max_response_bytes=self._config.max_response_bytes,
                connect_timeout_s=min(10.0, self._config.load_timeout_s),
            )
            await proxy.start()
            try:
                context = await self._browser.new_context(
                    proxy={"server": proxy.url, "bypass": "<-loopback>"},
                    accept_downloads=False,
                    service_workers="block",
                    user_agent=self._config.user_agent,
                    viewport={"width": 1280, "height": 1600},
                    locale="en-US",
                )
            except Exception:
                await proxy.aclose()
                raise
            context.set_default_timeout(self._config.load_timeout_s * 1000)
            session = _Session(context=context, proxy=proxy)
            self._sessions[session_id] = session
        if session.page is None or session.crashed or session.page.is_closed():
            if session.crashed:
                notice = "The previous tab crashed and was replaced by a new one."
                with contextlib.suppress(Exception):
                    await session.page.close()
            session.page = await self._new_page(session)
        return session, notice

    async def _new_page(self, session: _Session) -> Any:
        page = await session.context.new_page()
        session.crashed = False
        session.inflight = _Inflight()
        inflight = session.inflight

        def on_crash(_page: Any) -> None:
            session.crashed = True

        page.on("crash", on_crash)
        page.on("request", inflight.started)
        page.on("requestfinished", inflight.ended)
        page.on("requestfailed", inflight.ended)
        return page

    def page_of(self, session_id: str) -> Any:
        """The live Playwright page of a session, or ``None`` (for diagnostics and tests)."""
        session = self._sessions.get(session_id)
        return None if session is None else session.page

    def proxy_of(self, session_id: str) -> EgressProxy | None:
        """The egress proxy of a session, or ``None``."""
        session = self._sessions.get(session_id)
        return None if session is None else session.proxy

    async def load(self, session_id: str, url: str, *, view_source: bool = False) -> LoadedDocument:
        """Navigate the session's tab to ``url`` and collect the document.

        Raises:
            BlockedURLError: The URL, or a redirect hop of it, was refused.
            PageLoadError: Timeout, network error, download, unsupported content, too big.
            BrowserCrashedError: The tab or browser died during the load (it was replaced).
            ToolUnavailableError: Chromium cannot be started at all.
        """
        started = time.monotonic()
        session, notice = await self._session(session_id)
        page = session.page
        first_block = len(session.proxy.blocked)
        deadline = started + self._config.load_timeout_s
        session.inflight.reset()
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        try:
            response = await page.goto(
                url, wait_until="domcontentloaded", timeout=self._config.load_timeout_s * 1000
            )
        except PlaywrightTimeout as exc:
            await self._stop_loading(page)
            raise PageLoadError(
                f"Timed out after {self._config.load_timeout_s:g}s waiting for {url} to load."
            ) from exc
        except PlaywrightError as exc:
            raise self._translate(session, url, exc, first_block) from exc
        if response is None:  # same-document navigation (only the fragment changed)
            status, headers, final_url, redirected = None, {}, page.url, False
        else:
            status, headers, final_url = response.status, await response.all_headers(), response.url
            redirected = response.request.redirected_from is not None
        blocked = tuple(session.proxy.blocked[first_block:])
        block_kind = headers.get(BLOCK_HEADER.lower())
        if block_kind:
            reason = next(
                (b.reason for b in reversed(blocked) if b.url.rstrip("/") == final_url.rstrip("/")),
                "the address is not allowed",
            )
            hop = f"{url} redirected to {final_url}, which " if redirected else f"{final_url} "
            if block_kind == "unresolved":
                raise PageLoadError(f"Could not open {url}: {reason}.")
            raise BlockedURLError(f"Refused: {hop}is blocked ({reason}).")
        content_type = headers.get("content-type", "")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self._config.max_response_bytes:
            raise PageLoadError(
                f"{final_url} is {int(length)} bytes, over the {self._config.max_response_bytes}"
                "-byte limit."
            )
        common: dict[str, Any] = {
            "requested_url": url,
            "url": final_url,
            "status": status,
            "content_type": content_type,
            "redirected": redirected,
            "notice": notice,
        }
        try:
            if response is not None and is_pdf(content_type):
                body = await self._pdf_bytes(page, response, final_url)
                await self._stop_loading(page)
                return LoadedDocument(
                    **common,
                    pdf=body,
                    blocked=tuple(session.proxy.blocked[first_block:]),
                    elapsed_ms=(time.monotonic() - started) * 1000,
                )
            if content_type.lower().startswith(_BINARY_PREFIXES):
                raise PageLoadError(
                    f"{final_url} has content type {content_type.split(';')[0]}, which cannot "
                    "be shown as text (downloads are blocked)."
                )
            if view_source and response is not None:
                source = await response.text()
                truncated = len(source) > self._config.max_html_chars
                return LoadedDocument(
                    **common,
                    source=source[: self._config.max_html_chars],
                    truncated=truncated,
                    blocked=tuple(session.proxy.blocked[first_block:]),
                    elapsed_ms=(time.monotonic() - started) * 1000,
                )
            await self._settle(page, session.inflight, deadline)
            html = await page.content()
            title = await page.title()
        except PlaywrightError as exc:
            raise self._translate(session, url, exc, first_block) from exc
        truncated = len(html) > self._config.max_html_chars
        return LoadedDocument(
            **common,
            title=title,
            html=html[: self._config.max_html_chars],
            truncated=truncated,
            blocked=tuple(session.proxy.blocked[first_block:]),
            elapsed_ms=(time.monotonic() - started) * 1000,
        )

    async def _pdf_bytes(self, page: Any, response: Any, url: str) -> bytes:
        """The PDF file itself.

        Chromium shows PDFs in its viewer, wrapping them in a generated HTML document;
        depending on timing ``response.body()`` holds that wrapper. Then the file is
        fetched again through the context's request client, which uses the same egress
        proxy (so the same policy and size cap apply).
        """
        body: bytes = b""
        with contextlib.suppress(Exception):
            body = await response.body()
        if body.lstrip()[:5] == b"%PDF-":
            return body
        fetched = await page.context.request.get(
            url, timeout=self._config.load_timeout_s * 1000, max_redirects=0
        )
        try:
            if fetched.headers.get(BLOCK_HEADER.lower()) or fetched.status >= 400:
                raise PageLoadError(f"Could not fetch the PDF at {url} (HTTP {fetched.status}).")
            data: bytes = await fetched.body()
            return data
        finally:
            await fetched.dispose()

    async def _settle(self, page: Any, inflight: _Inflight, deadline: float) -> None:
        """Give scripts time to render: wait for ``load``, then for a quiet network."""
        settle_deadline = min(deadline, time.monotonic() + self._config.settle_timeout_s)
        remaining_ms = max(0.0, settle_deadline - time.monotonic()) * 1000
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        with contextlib.suppress(PlaywrightTimeout):
            await page.wait_for_load_state("load", timeout=max(1.0, remaining_ms))
        await inflight.wait_quiet(self._config.quiet_ms / 1000, settle_deadline)

    async def _stop_loading(self, page: Any) -> None:
        """Leave a page that is still loading (or a heavy viewer) for an empty one."""
        with contextlib.suppress(Exception):
            await page.goto("about:blank", timeout=5000)

    def _translate(
        self, session: _Session, url: str, exc: Exception, first_block: int
    ) -> Exception:
        """Turn a Playwright error into a model-readable browser error."""
        message = str(exc).split("\n", 1)[0]
        blocked = session.proxy.blocked[first_block:]
        policy_blocks = [b for b in blocked if b.kind == "policy"]
        if "ERR_TUNNEL_CONNECTION_FAILED" in message and blocked:
            record = blocked[-1]
            if record.kind == "unresolved":
                return PageLoadError(f"Could not open {url}: {record.reason}.")
            return BlockedURLError(f"Refused: {record.url} is blocked ({record.reason}).")
        if "Download is starting" in message:
            return PageLoadError(f"{url} starts a file download; downloads are blocked.")
        if (
            session.crashed
            or session.page is None
            or session.page.is_closed()
            or any(marker in message for marker in _CRASH_MARKERS)
        ):
            session.crashed = True
            return BrowserCrashedError(
                f"The browser tab crashed while loading {url}. It has been restarted; you may "
                "retry or open another page."
            )
        if policy_blocks and "ERR_" in message:
            record = policy_blocks[-1]
            return BlockedURLError(f"Refused: {record.url} is blocked ({record.reason}).")
        if "net::" in message:
            code = message.split("net::", 1)[1].split(" ", 1)[0]
            return PageLoadError(f"Could not open {url}: network error {code}.")
        return PageLoadError(f"Could not open {url}: {message}")

    async def close_session(self, session_id: str) -> None:
        """Close a session's context and proxy (its page stack is kept by the tool)."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            with contextlib.suppress(Exception):
                await session.context.close()
            await session.proxy.aclose()

    async def _drop_sessions(self) -> None:
        for session_id in list(self._sessions):
            await self.close_session(session_id)

    async def aclose(self) -> None:
        """Close every context, the browser and the driver. Idempotent."""
        await self._drop_sessions()
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(Exception):
                await browser.close()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
