"""The bytes of a PDF document, fetched outside the tab's renderer.

Chromium either shows a PDF in its viewer, wrapping the file in a generated HTML
document (the full browser), or starts a download (the headless shell, which has no
viewer; downloads are blocked). Both times the file itself is fetched through the
context's request client, which goes through the session's egress proxy: the same
allowlist, redirect checks and size cap apply as to a page.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.egress import BLOCK_HEADER
from gptoss_agent.tools.browser.errors import PageLoadError
from gptoss_agent.tools.browser.guards import bounded
from gptoss_agent.tools.browser.pdf_text import is_pdf

PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class FetchedPdf:
    """A PDF a download navigation pointed at, fetched by the request client."""

    url: str
    status: int
    content_type: str
    redirected: bool
    body: bytes


async def viewer_pdf(page: Any, response: Any, url: str, config: BrowserConfig) -> bytes:
    """The PDF behind the full browser's viewer: the response body, or a second fetch.

    Depending on timing ``response.body()`` holds the viewer's wrapper, not the file;
    then the file is fetched again (no redirects: ``url`` is where they ended).
    """
    body: bytes = b""
    with contextlib.suppress(Exception):
        body = await asyncio.wait_for(response.body(), config.operation_timeout_s)
    if body.lstrip()[: len(PDF_MAGIC)] == PDF_MAGIC:
        return body
    fetched = await _fetch(page, url, config, max_redirects=0)
    if fetched is None or fetched.status >= 400:
        status = "refused" if fetched is None else f"HTTP {fetched.status}"
        raise PageLoadError(f"Could not fetch the PDF at {url} ({status}).")
    return fetched.body


async def downloaded_pdf(page: Any, url: str, config: BrowserConfig) -> FetchedPdf | None:
    """The PDF a download navigation to ``url`` points at; ``None`` when it is not one.

    ``None`` also when the proxy refused the address or a redirect hop, or the server
    answered an error: the caller then reports the blocked download as before.
    """
    fetched = await _fetch(page, url, config, max_redirects=10)
    if fetched is None or fetched.status >= 400:
        return None
    if not (is_pdf(fetched.content_type) or fetched.body.lstrip()[:5] == PDF_MAGIC):
        return None
    return fetched


async def _fetch(
    page: Any, url: str, config: BrowserConfig, *, max_redirects: int
) -> FetchedPdf | None:
    """GET ``url`` through the context's proxy; ``None`` when the proxy refused it."""
    response = await bounded(  # Playwright's timeout, and ours should the driver stall
        page.context.request.get(
            url, timeout=config.load_timeout_s * 1000, max_redirects=max_redirects
        ),
        config.load_timeout_s + config.operation_timeout_s, "fetching the PDF",
    )
    try:
        if response.headers.get(BLOCK_HEADER.lower()):
            return None
        body: bytes = await bounded(response.body(), config.operation_timeout_s, "reading the PDF")
        return FetchedPdf(
            url=response.url,
            status=response.status,
            content_type=response.headers.get("content-type", ""),
            redirected=response.url.rstrip("/") != url.rstrip("/"),
            body=body,
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(response.dispose(), config.operation_timeout_s)
