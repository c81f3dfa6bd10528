"""HTML to readable text with numbered link markers.

The rendered DOM (after JavaScript ran) is cleaned with BeautifulSoup (scripts, styles,
hidden elements and form controls go), every text node is sanitised so it cannot forge a
citation, and each ``<a href>`` is replaced by a placeholder that becomes a
``【id†text】`` marker. The remaining tree is converted with ``html2text``, which keeps
headings, lists, tables and preformatted blocks readable.

Why html2text: of the libraries compared on real documentation pages, html2text gave
clean Markdown-like text about four times faster than markdownify (16 ms vs 74 ms on a
typical page) with comparable structure; trafilatura is a main-content extractor that
drops navigation and links (which the model needs to browse) and did not even import with
the current lxml without an extra package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from gptoss_agent.tools.browser.page import Link, Page
from gptoss_agent.tools.browser.render import (
    DEFAULT_LINE_WIDTH,
    link_marker,
    sanitize,
    sanitize_inline,
    text_to_lines,
)

_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "head",
    "meta",
    "link",
    "button",
    "select",
    "option",
    "input",
    "textarea",
    "map",
    "audio",
    "video",
    "picture",
    "source",
    "track",
    "dialog",
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_ESCAPED_NUMBER = re.compile(r"^(\s*\d+)\\\.", re.MULTILINE)
_ESCAPED_BULLET = re.compile(r"^(\s*)\\([-+])", re.MULTILINE)


@dataclass(frozen=True)
class HtmlOptions:
    """How HTML becomes lines.

    Attributes:
        line_width: Lines longer than this are wrapped.
        max_links: Links beyond this many are shown as plain text.
    """

    line_width: int = DEFAULT_LINE_WIDTH
    max_links: int = 2000


def html_to_page(html: str, url: str, options: HtmlOptions | None = None) -> Page:
    """Convert a document's HTML into a :class:`Page`.

    Args:
        html: The serialised DOM (``page.content()``) or a raw HTML document.
        url: The document's final URL: base for relative links and the page's URL.
        options: Conversion options.

    Returns:
        A ``web`` page whose lines carry ``【id†text】`` markers for ``links[id]``.
    """
    from bs4 import BeautifulSoup

    options = options or HtmlOptions()
    soup = BeautifulSoup(html, "lxml")
    title = _title(soup)
    base = _base_url(soup, url)
    _clean(soup)
    links, markers = _number_links(soup, url, base, options.max_links)
    converted = _to_text(soup.body or soup)
    converted = _PLACEHOLDER.sub(lambda m: markers.get(int(m.group(1)), ""), converted)
    lines = text_to_lines(converted, options.line_width)
    return Page(url=url, title=title, lines=lines, links=tuple(links), kind="web")


def _base_url(soup: Any, url: str) -> str:
    """Where relative links resolve from: the ``<base href>``, else the page's URL."""
    from bs4 import Tag

    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        return urljoin(url, str(base_tag.get("href")))
    return url


def _clean(soup: Any) -> None:
    """Remove what a reader never sees, and sanitise every text node that is left.

    Goes: scripts, styles, form controls and the like (``_DROP_TAGS``), comments, and
    elements hidden by ``hidden``, ``aria-hidden`` or an inline style. Sanitising keeps page
    text from forging a citation marker. One walk over the tree: a removed element's
    subtree is never visited (asking bs4 whether a node was decomposed searches the
    node's whole subtree, which made this quadratic).
    """
    from bs4 import Comment, NavigableString, Tag

    for tag in soup.find_all(_DROP_TAGS):
        if not tag.decomposed:  # not inside one removed before (cheap: it is small)
            tag.decompose()
    stack = [soup]
    while stack:
        parent = stack.pop()
        for child in list(parent.contents):
            if isinstance(child, Comment):
                child.extract()
            elif isinstance(child, NavigableString):
                clean = sanitize(str(child))
                if clean != child:
                    child.replace_with(clean)
            elif isinstance(child, Tag):
                if _hidden(child):
                    child.decompose()
                else:
                    stack.append(child)


def _hidden(tag: Any) -> bool:
    attrs = tag.attrs or {}
    return (
        "hidden" in attrs
        or str(attrs.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))
    )


def _number_links(
    soup: Any, url: str, base: str, max_links: int
) -> tuple[list[Link], dict[int, str]]:
    """Replace each followable ``<a href>`` by a placeholder for its link marker.

    Links to the same URL share an id; anchors that cannot be followed (other schemes,
    fragments of this page, no text, past ``max_links``) become plain text.

    Returns:
        The links by id, and the marker text of each placeholder.
    """
    from bs4 import NavigableString, Tag

    page_host = (urlsplit(url).hostname or "").lower()
    page_no_fragment = urldefrag(url)[0]
    links: list[Link] = []
    ids_by_url: dict[str, int] = {}
    markers: dict[int, str] = {}
    for anchor in soup.find_all("a"):
        if not isinstance(anchor, Tag):
            continue
        href = str(anchor.get("href") or "").strip()
        target = urljoin(base, href) if href else ""
        text = _anchor_text(anchor)
        followable = (
            urlsplit(target).scheme.lower() in ("http", "https")
            and not href.startswith("#")
            and bool(text)
            and urldefrag(target)[0] != page_no_fragment
            and (len(links) < max_links or target in ids_by_url)
        )
        if not followable:
            anchor.replace_with(NavigableString(f" {text} " if text else " "))
            continue
        link_id = ids_by_url.setdefault(target, len(links))
        if link_id == len(links):
            links.append(Link(url=target, text=text))
        host = (urlsplit(target).hostname or "").lower()
        placeholder = len(markers)
        markers[placeholder] = link_marker(link_id, text, host if host != page_host else None)
        anchor.replace_with(NavigableString(f"\ue000{placeholder}\ue001"))
    return links, markers


def _anchor_text(anchor: Any) -> str:
    """What a link says: its text, else its ``aria-label``/``title``, else an image's alt."""
    from bs4 import Tag

    text = sanitize_inline(anchor.get_text(" ", strip=True))
    if not text:
        text = sanitize_inline(str(anchor.get("aria-label") or anchor.get("title") or ""))
    if not text:
        image = anchor.find("img")
        if isinstance(image, Tag):
            text = sanitize_inline(str(image.get("alt") or ""))
    return text


def _to_text(body: Any) -> str:
    """The cleaned tree as Markdown-like text (html2text), without escaped list markers."""
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True
    converter.single_line_break = False
    converted: str = converter.handle(str(body))
    converted = _ESCAPED_NUMBER.sub(r"\1.", converted)
    return _ESCAPED_BULLET.sub(r"\1\2", converted)


def _title(soup: object) -> str:
    from bs4 import BeautifulSoup, Tag

    assert isinstance(soup, BeautifulSoup)
    if soup.title is not None and soup.title.get_text(strip=True):
        return sanitize_inline(soup.title.get_text())
    meta = soup.find("meta", attrs={"property": "og:title"})
    if isinstance(meta, Tag) and meta.get("content"):
        return sanitize_inline(str(meta.get("content")))
    heading = soup.find("h1")
    if isinstance(heading, Tag):
        return sanitize_inline(heading.get_text(" "))
    return ""


def source_to_page(source: str, url: str, line_width: int = DEFAULT_LINE_WIDTH) -> Page:
    """A ``view_source`` page: the raw document text, sanitised and numbered."""
    lines: list[str] = []
    for raw in sanitize(source).splitlines():
        lines.extend(_hard_wrap(raw.rstrip(), line_width * 2))
    return Page(url=url, title=f"Source of {url}", lines=tuple(lines), kind="source")


def _hard_wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    return [line[i : i + width] for i in range(0, len(line), width)]
