"""Loading one URL in a session's tab: navigate, check the response, collect the document.

:func:`navigate` goes to the URL with a load-time cap while watching that the tab still
answers (:mod:`.guards`), refuses what the egress proxy blocked (a redirect hop
included), oversized and binary responses, fetches the PDF file itself when Chromium
shows its viewer or starts a download (:mod:`.pdf_fetch`), waits for JavaScript-driven
requests to settle, reads the page under a deadline, and hands back a
:class:`~.documents.LoadedDocument`. Playwright's errors become the browser's own,
model-readable errors (:func:`translate_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.documents import LoadedDocument
from gptoss_agent.tools.browser.driver import playwright_api
from gptoss_agent.tools.browser.egress import BLOCK_HEADER
from gptoss_agent.tools.browser.errors import (
    BlockedURLError,
    BrowserCrashedError,
    PageLoadError,
    PageUnresponsiveError,
    PreviousPageStuckError,
)
from gptoss_agent.tools.browser.guards import Reference, bounded, watch_navigation
from gptoss_agent.tools.browser.pdf_fetch import FetchedPdf, downloaded_pdf, viewer_pdf
from gptoss_agent.tools.browser.pdf_text import is_pdf
from gptoss_agent.tools.browser.tab import SessionTab

BINARY_PREFIXES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "application/octet-stream",
    "application/zip",
    "application/x-",
    "application/vnd.",
)
"""Content types that cannot be shown as text (downloads are blocked)."""

_CRASH_MARKERS = ("crash", "Target closed", "has been closed", "Target page, context or browser")


@dataclass(frozen=True)
class _Arrival:
    """The final response of a navigation, before its body is read."""

    url: str
    status: int | None
    headers: Mapping[str, str]
    redirected: bool

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


async def navigate(
    tab: SessionTab,
    url: str,
    config: BrowserConfig,
    *,
    view_source: bool = False,
    notice: str | None = None,
    reference: Reference | None = None,
) -> LoadedDocument:
    """Navigate the session's tab to ``url`` and collect the document.

    Args:
        tab: The session's context, proxy and (open) tab.
        url: Where to go.
        config: Caps and timeouts.
        view_source: Collect the body as served instead of the rendered DOM.
        notice: A note for the model carried into the document (a restarted browser).
        reference: A known-good tab that confirms a silent tab is hung, not just slow.

    Raises:
        BlockedURLError: The URL, or a redirect hop of it, was refused.
        PageLoadError: Timeout, network error, download, unsupported content, too big.
        BrowserCrashedError: The tab or browser died during the load.
    """
    started = time.monotonic()
    first_block = len(tab.proxy.blocked)
    tab.start_load()
    try:
        response = await _goto(tab, url, config, reference)
        arrival = _arrival(tab.page, response)
        _refuse_blocked(tab, url, arrival, first_block)
        _refuse_oversized(arrival, config)
        body = await _read_body(
            tab, response, arrival, config, view_source, started + config.load_timeout_s
        )
    except PreviousPageStuckError:
        raise
    except PageUnresponsiveError as exc:
        raise PageUnresponsiveError(
            f"{url} stopped responding ({exc}); its tab was closed and replaced, so the "
            "next open starts fresh."
        ) from exc
    except playwright_api().Error as exc:
        if "Download is starting" in str(exc):
            fetched = await downloaded_pdf(tab.page, url, config)
            if fetched is not None:
                return _pdf_document(tab, url, fetched, notice, first_block, started)
        error = translate_error(tab, url, exc, first_block)
        # Chromium still commits its error page after the failure; a later goto in this
        # tab would be interrupted by it, so the next load starts in a fresh tab.
        tab.retired = tab.retired or "its navigation failed"
        raise error from exc
    return LoadedDocument(
        requested_url=url,
        url=arrival.url,
        status=arrival.status,
        content_type=arrival.content_type,
        redirected=arrival.redirected,
        notice=_notice(tab, notice),
        blocked=tuple(tab.proxy.blocked[first_block:]),
        elapsed_ms=(time.monotonic() - started) * 1000,
        dialogs=tuple(tab.dialogs),
        popups_closed=tab.popups,
        **body,
    )


def _pdf_document(
    tab: SessionTab, url: str, fetched: FetchedPdf, notice: str | None, first_block: int,
    started: float,
) -> LoadedDocument:
    """The document of a PDF the tab would only download (the headless shell's way)."""
    return LoadedDocument(
        requested_url=url,
        url=fetched.url,
        status=fetched.status,
        content_type=fetched.content_type,
        redirected=fetched.redirected,
        notice=_notice(tab, notice),
        blocked=tuple(tab.proxy.blocked[first_block:]),
        elapsed_ms=(time.monotonic() - started) * 1000,
        pdf=fetched.body,
    )


def _notice(tab: SessionTab, notice: str | None) -> str | None:
    """The notes for the model: a restarted browser, dismissed dialogs, closed popups."""
    notes = [notice] if notice else []
    if tab.dialogs:
        kinds = sorted({entry.split(":", 1)[0] for entry in tab.dialogs})
        notes.append(
            f"The page opened {len(tab.dialogs)} dialog(s) ({', '.join(kinds)}); all were "
            "dismissed."
        )
    if tab.popups:
        notes.append(f"The page opened {tab.popups} popup window(s); they were closed.")
    return " ".join(notes) or None


async def _goto(
    tab: SessionTab, url: str, config: BrowserConfig, reference: Reference | None
) -> Any:
    """``page.goto`` up to the document's arrival, the tab watched; timeouts translated.

    Raises:
        PreviousPageStuckError: The tab stopped answering before leaving its old page.
        PageUnresponsiveError: The tab stopped answering (the new page hung it).
        PageLoadError: The load limit passed (the tab is retired: it may still load).
    """
    api = playwright_api()
    leaving = tab.page.url not in ("", "about:blank")
    navigation = asyncio.ensure_future(
        tab.page.goto(url, wait_until="domcontentloaded", timeout=config.load_timeout_s * 1000)
    )
    try:
        return await watch_navigation(
            tab, navigation, config.hang_probe_s, leaving=leaving, reference=reference
        )
    except api.TimeoutError as exc:
        tab.retired = "the load limit passed"
        raise PageLoadError(
            f"Timed out after {config.load_timeout_s:g}s waiting for {url} to load."
        ) from exc


def _arrival(page: Any, response: Any) -> _Arrival:
    if response is None:  # same-document navigation (only the fragment changed)
        return _Arrival(page.url, None, {}, False)
    # ``headers`` is already here (no round trip); it lacks only cookie-related ones.
    headers = dict(response.headers)
    redirected = response.request.redirected_from is not None
    return _Arrival(response.url, response.status, headers, redirected)


def _refuse_blocked(tab: SessionTab, url: str, arrival: _Arrival, first_block: int) -> None:
    """Raise when the proxy answered the final response itself (it refused the address)."""
    block_kind = arrival.headers.get(BLOCK_HEADER.lower())
    if not block_kind:
        return
    final = arrival.url.rstrip("/")
    blocked = tab.proxy.blocked[first_block:]
    reason = next(
        (b.reason for b in reversed(blocked) if b.url.rstrip("/") == final),
        "the address is not allowed",
    )
    if block_kind == "unresolved":
        raise PageLoadError(f"Could not open {url}: {reason}.")
    hop = f"{url} redirected to {arrival.url}, which " if arrival.redirected else f"{arrival.url} "
    raise BlockedURLError(f"Refused: {hop}is blocked ({reason}).")


def _refuse_oversized(arrival: _Arrival, config: BrowserConfig) -> None:
    length = arrival.headers.get("content-length", "")
    if length.isdigit() and int(length) > config.max_response_bytes:
        raise PageLoadError(
            f"{arrival.url} is {int(length)} bytes, over the {config.max_response_bytes}"
            "-byte limit."
        )


async def _read_body(
    tab: SessionTab,
    response: Any,
    arrival: _Arrival,
    config: BrowserConfig,
    view_source: bool,
    deadline: float,
) -> dict[str, Any]:
    """The document's content fields: ``pdf``; or ``source``; or ``html`` and ``title``."""
    content_type = arrival.content_type
    limit = config.operation_timeout_s
    if response is not None and is_pdf(content_type):
        body = await viewer_pdf(tab.page, response, arrival.url, config)
        await stop_loading(tab.page, limit)
        return {"pdf": body}
    if content_type.lower().startswith(BINARY_PREFIXES):
        raise PageLoadError(
            f"{arrival.url} has content type {content_type.split(';')[0]}, which cannot "
            "be shown as text (downloads are blocked)."
        )
    cap = config.max_html_chars
    if view_source and response is not None:
        source = await bounded(response.text(), limit, "reading the response")
        return {"source": source[:cap], "truncated": len(source) > cap}
    html, title = await _rendered(tab, deadline, config)
    return {"title": title, "html": html[:cap], "truncated": len(html) > cap}


_READ_AFTER_A_TURN = """() => new Promise((resolve) => setTimeout(() => {
  const root = document.documentElement;
  const doctype = document.doctype ? `<!DOCTYPE ${document.doctype.name}>` : "";
  resolve([doctype + (root ? root.outerHTML : ""), document.title]);
}, 0))"""
"""Lets the page's queued timers and promises run once, then reads the DOM and title."""


async def _rendered(tab: SessionTab, deadline: float, config: BrowserConfig) -> tuple[str, str]:
    """The page's HTML and title once scripts have had time to render.

    Waits for ``load``. With no request pending then, one task turn of the page is
    enough (one round trip that also reads the page); a request that starts meanwhile,
    or one still pending, means waiting for a quiet network and reading again.
    """
    page, inflight, limit = tab.page, tab.inflight, config.operation_timeout_s
    settle_deadline = min(deadline, time.monotonic() + config.settle_timeout_s)
    load_ms = max(1.0, (settle_deadline - time.monotonic()) * 1000)
    with contextlib.suppress(playwright_api().TimeoutError):
        # Playwright's own timeout, and ours past it should the driver itself stall.
        await bounded(page.wait_for_load_state("load", timeout=load_ms),
                      load_ms / 1000 + limit, "waiting for the load event")
    if not inflight.pending:
        changes = inflight.changes
        with contextlib.suppress(PageUnresponsiveError, playwright_api().Error):
            html, title = await bounded(
                page.evaluate(_READ_AFTER_A_TURN), min(limit, 1.0), "reading the page"
            )
            if not inflight.pending and inflight.changes == changes:
                return str(html), str(title)
    await inflight.wait_quiet(config.quiet_ms / 1000, settle_deadline)
    html = await bounded(page.content(), limit, "reading the page")
    return html, await bounded(page.title(), limit, "reading the title")


async def stop_loading(page: Any, timeout_s: float = 5.0) -> None:
    """Leave a page that is still loading (or a heavy viewer) for an empty one."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(page.goto("about:blank", timeout=timeout_s * 1000), timeout_s)


def translate_error(tab: SessionTab, url: str, exc: Exception, first_block: int) -> Exception:
    """Turn a Playwright error into a model-readable browser error.

    A crash marks the tab as crashed, so the session replaces it before the next load.
    """
    message = str(exc).split("\n", 1)[0]
    blocked = tab.proxy.blocked[first_block:]
    if "ERR_TUNNEL_CONNECTION_FAILED" in message and blocked:
        record = blocked[-1]
        if record.kind == "unresolved":
            return PageLoadError(f"Could not open {url}: {record.reason}.")
        return BlockedURLError(f"Refused: {record.url} is blocked ({record.reason}).")
    if "Download is starting" in message:
        return PageLoadError(f"{url} starts a file download; downloads are blocked.")
    if tab.retired is not None:
        return PageUnresponsiveError(
            f"{url} {tab.retired}; its tab was closed and replaced, so the next open starts fresh."
        )
    if tab.gone or any(marker in message for marker in _CRASH_MARKERS):
        tab.crashed = True
        return BrowserCrashedError(
            f"The browser tab crashed while loading {url}. It has been restarted; you may "
            "retry or open another page."
        )
    policy_blocks = [b for b in blocked if b.kind == "policy"]
    if policy_blocks and "ERR_" in message:
        record = policy_blocks[-1]
        return BlockedURLError(f"Refused: {record.url} is blocked ({record.reason}).")
    if "net::" in message:
        code = message.split("net::", 1)[1].split(" ", 1)[0]
        return PageLoadError(f"Could not open {url}: network error {code}.")
    return PageLoadError(f"Could not open {url}: {message}")
