"""PDF bytes to a text page, with pypdf.

pypdf is pure Python (no system library to install), well kept, and its layout-free
text extraction gives reading-order text for ordinary documents. Each PDF page is
preceded by a ``--- page N ---`` line so the model can tell where it is.
"""

from __future__ import annotations

import io
from urllib.parse import unquote, urlsplit

from gptoss_agent.tools.browser.errors import PageLoadError
from gptoss_agent.tools.browser.page import Page
from gptoss_agent.tools.browser.render import (
    DEFAULT_LINE_WIDTH,
    sanitize,
    sanitize_inline,
    text_to_lines,
)


def is_pdf(content_type: str, body_start: bytes = b"") -> bool:
    """Whether a response is a PDF, by its content type or its magic bytes."""
    return "application/pdf" in content_type.lower() or body_start.lstrip()[:5] == b"%PDF-"


def pdf_to_page(
    data: bytes, url: str, line_width: int = DEFAULT_LINE_WIDTH, max_pages: int = 500
) -> Page:
    """Extract the text of a PDF into a :class:`Page`.

    Args:
        data: The PDF file.
        url: Where it came from (the page's URL; its file name is the fallback title).
        line_width: Lines longer than this are wrapped.
        max_pages: Pages beyond this are left out and the page is marked truncated.

    Raises:
        PageLoadError: The bytes are not a readable PDF (or it is encrypted).
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PageLoadError(f"The PDF at {url} is encrypted and cannot be read.")
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = sanitize_inline(str(reader.metadata.title))
        parts: list[str] = []
        for number, pdf_page in enumerate(reader.pages, start=1):
            if number > max_pages:
                break
            parts.append(f"--- page {number} ---")
            parts.append(sanitize(pdf_page.extract_text() or ""))
        truncated = len(reader.pages) > max_pages
    except PageLoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PageLoadError(f"The PDF at {url} could not be read: {exc}") from exc
    if not title:
        title = sanitize_inline(unquote(urlsplit(url).path.rsplit("/", 1)[-1])) or url
    lines = text_to_lines("\n".join(parts), line_width)
    return Page(url=url, title=title, lines=lines, kind="pdf", truncated=truncated)
