"""HTML to readable text with numbered link markers.

The rendered DOM (after JavaScript ran) is parsed and cleaned with lxml (scripts, styles,
hidden elements and form controls go), every text node is sanitised so it cannot forge a
citation, and each ``<a href>`` is replaced by a placeholder that becomes a
``【id†text】`` marker. The remaining tree is converted with ``html2text``, which keeps
headings, lists, tables and preformatted blocks readable.

Why lxml for the cleaning: it is libxml2's HTML parser with a C tree, the parser
BeautifulSoup itself was driving here, without a Python object per node. On a 45 KB page
the whole conversion went from 167 ms to about a third of that; the agent's process runs
it for every page of every session.

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
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    options = options or HtmlOptions()
    root = _parse(html)
    if root is None:
        return Page(url=url, title="", lines=(), links=(), kind="web")
    title = _title(root)
    base = _base_url(root, url)
    _clean(root)
    links, markers = _number_links(root, url, base, options.max_links)
    body = root.find("body")
    converted = _to_text(body if body is not None else root)
    converted = _PLACEHOLDER.sub(lambda m: markers.get(int(m.group(1)), ""), converted)
    lines = text_to_lines(converted, options.line_width)
    return Page(url=url, title=title, lines=lines, links=tuple(links), kind="web")


def _parse(html: str) -> Any:
    """The document's root element; ``None`` for a document with no elements or text.

    Parsed from UTF-8 bytes with that encoding named, so an XML declaration or a
    ``<meta charset>`` in the text cannot make the parser decode it again; a lone
    surrogate (which UTF-8 cannot hold) becomes U+FFFD.
    """
    import lxml.html
    from lxml import etree

    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:
        data = _SURROGATE.sub("\ufffd", html).encode("utf-8")
    try:
        return lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except etree.ParserError:  # "Document is empty"
        return None


def _base_url(root: Any, url: str) -> str:
    """Where relative links resolve from: the ``<base href>``, else the page's URL."""
    base = root.find(".//base[@href]")
    return urljoin(url, str(base.get("href"))) if base is not None else url


def _clean(root: Any) -> None:
    """Remove what a reader never sees, and sanitise every text node that is left.

    Goes: scripts, styles, form controls and the like (``_DROP_TAGS``), comments (and
    processing instructions, which the HTML parser reads as comments), and elements
    hidden by ``hidden``, ``aria-hidden`` or an inline style. Text after a removed element
    stays. Sanitising keeps page text from forging a citation marker.
    """
    from lxml import etree

    for element in list(root.iter(*_DROP_TAGS)):
        element.drop_tree()
    for element in list(root.iter()):
        if element.tag is etree.Comment or element.tag is etree.ProcessingInstruction:
            element.drop_tree()
    hidden = [element for element in root.iter() if _hidden(element)]
    for element in hidden:
        element.drop_tree()  # one inside another hidden one goes with it, harmlessly
    for element in root.iter():
        if element.text:
            element.text = sanitize(element.text)
        if element.tail:
            element.tail = sanitize(element.tail)


def _hidden(element: Any) -> bool:
    attrs = element.attrib
    return (
        "hidden" in attrs
        or str(attrs.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))
    )


def _number_links(
    root: Any, url: str, base: str, max_links: int
) -> tuple[list[Link], dict[int, str]]:
    """Replace each followable ``<a href>`` by a placeholder for its link marker.

    Links to the same URL share an id; anchors that cannot be followed (other schemes,
    fragments of this page, no text, past ``max_links``) become plain text.

    Returns:
        The links by id, and the marker text of each placeholder.
    """
    page_host = (urlsplit(url).hostname or "").lower()
    page_no_fragment = urldefrag(url)[0]
    links: list[Link] = []
    ids_by_url: dict[str, int] = {}
    markers: dict[int, str] = {}
    for anchor in list(root.iter("a")):
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
            _replace_with_text(anchor, f" {text} " if text else " ")
            continue
        link_id = ids_by_url.setdefault(target, len(links))
        if link_id == len(links):
            links.append(Link(url=target, text=text))
        host = (urlsplit(target).hostname or "").lower()
        placeholder = len(markers)
        markers[placeholder] = link_marker(link_id, text, host if host != page_host else None)
        _replace_with_text(anchor, f"\ue000{placeholder}\ue001")
    return links, markers


def _replace_with_text(element: Any, text: str) -> None:
    """Put ``text`` where ``element`` (and everything in it) was; what follows it stays."""
    parent = element.getparent()
    if parent is None:
        return
    joined = text + (element.tail or "")
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + joined
    else:
        parent.text = (parent.text or "") + joined
    parent.remove(element)


def _anchor_text(anchor: Any) -> str:
    """What a link says: its text, else its ``aria-label``/``title``, else an image's alt."""
    text = sanitize_inline(" ".join(piece.strip() for piece in anchor.itertext()))
    if not text:
        text = sanitize_inline(str(anchor.get("aria-label") or anchor.get("title") or ""))
    if not text:
        image = anchor.find(".//img")
        if image is not None:
            text = sanitize_inline(str(image.get("alt") or ""))
    return text


def _to_text(body: Any) -> str:
    """The cleaned tree as Markdown-like text (html2text), without escaped list markers."""
    import html2text
    import lxml.html

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True
    converter.single_line_break = False
    markup = lxml.html.tostring(body, encoding="unicode", with_tail=False)
    converted: str = converter.handle(markup)
    converted = _ESCAPED_NUMBER.sub(r"\1.", converted)
    return _ESCAPED_BULLET.sub(r"\1\2", converted)


def _title(root: Any) -> str:
    """The ``<title>``, else the ``og:title`` meta, else the first ``<h1>``."""
    title = root.find(".//title")
    if title is not None and "".join(title.itertext()).strip():
        return sanitize_inline("".join(title.itertext()))
    meta = root.find(".//meta[@property='og:title']")
    if meta is not None and meta.get("content"):
        return sanitize_inline(str(meta.get("content")))
    heading = root.find(".//h1")
    if heading is not None:
        return sanitize_inline(" ".join(heading.itertext()))
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
