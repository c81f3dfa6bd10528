"""What a navigation produced (:class:`LoadedDocument`), and the page the model reads of it.

:func:`document_to_page` picks the converter by what was loaded (a PDF, the source for
``view_source``, or the rendered DOM) and fills in the title and truncation flag;
:meth:`LoadedDocument.metadata` is what the tool result records about the load. Pure
values and functions: the loading itself is :mod:`.navigation`'s job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.egress import BlockedRequest
from gptoss_agent.tools.browser.html_text import HtmlOptions, html_to_page, source_to_page
from gptoss_agent.tools.browser.page import Page
from gptoss_agent.tools.browser.pdf_text import pdf_to_page
from gptoss_agent.tools.browser.render import sanitize_inline


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
        dialogs: The dialogs the page opened (``"alert: text"``), all dismissed.
        popups_closed: Popup windows the page opened that were closed.
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
    dialogs: tuple[str, ...] = ()
    popups_closed: int = 0

    def metadata(self) -> dict[str, Any]:
        """What the tool result records about the load (JSON-serialisable)."""
        meta: dict[str, Any] = {
            "requested_url": self.requested_url,
            "status": self.status,
            "content_type": self.content_type,
            "redirected": self.redirected,
            "load_ms": round(self.elapsed_ms, 1),
            "blocked_requests": [
                {"url": b.url, "reason": b.reason, "kind": b.kind} for b in self.blocked
            ],
        }
        if self.notice:
            meta["notice"] = self.notice
        if self.dialogs:
            meta["dialogs_dismissed"] = list(self.dialogs)
        if self.popups_closed:
            meta["popups_closed"] = self.popups_closed
        return meta


def document_to_page(document: LoadedDocument, view_source: bool, config: BrowserConfig) -> Page:
    """The page the model reads of a loaded document.

    Args:
        document: What the navigation produced.
        view_source: Show the document as served rather than as rendered.
        config: Line width and the PDF page cap.
    """
    if document.pdf is not None:
        page = pdf_to_page(document.pdf, document.url, config.line_width, config.max_pdf_pages)
    elif view_source and document.source is not None:
        page = source_to_page(document.source, document.url, config.line_width)
    else:
        options = HtmlOptions(line_width=config.line_width)
        page = html_to_page(document.html or "", document.url, options)
        if document.title.strip():
            page = dataclasses.replace(page, title=sanitize_inline(document.title))
    if document.truncated and not page.truncated:
        page = dataclasses.replace(page, truncated=True)
    if not page.title:
        page = dataclasses.replace(page, title=document.url)
    return page
