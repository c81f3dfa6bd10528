"""The pages the tool writes itself: search results and find results.

Both are ordinary :class:`~.page.Page` values pushed on the session's stack, so the
model scrolls them, follows their links and cites them like any other page. A search
result is a link ``【i†title†domain】`` followed by its snippet; a find result is a link
``【i†match at Ln】`` to the searched page at that line, followed by the line. Pure
functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from gptoss_agent.tools.browser.page import Link, Page
from gptoss_agent.tools.browser.render import link_marker, sanitize_inline, wrap_line
from gptoss_agent.tools.browser.search.base import SearchHit

MAX_FIND_MATCHES = 200
"""Most matches a find page lists."""


def search_results_page(
    query: str, hits: Iterable[SearchHit], topn: int, line_width: int
) -> Page:
    """The page of up to ``topn`` search results for ``query``."""
    shown_query = sanitize_inline(query)
    lines: list[str] = []
    links: list[Link] = []
    for hit in list(hits)[:topn]:
        link_id = len(links)
        links.append(Link(url=hit.url, text=sanitize_inline(hit.title), snippet=hit.snippet))
        parts = urlsplit(hit.url)
        domain = (parts.hostname if parts.scheme in ("http", "https") else "") or parts.scheme
        lines.extend(wrap_line("* " + link_marker(link_id, hit.title or hit.url, domain),
                               line_width))
        if hit.snippet.strip():
            lines.extend(wrap_line(sanitize_inline(hit.snippet), line_width))
        lines.append("")
    if not links:
        lines = [f"No results found for `{shown_query}`."]
    return Page(
        url=f"web-search://?q={quote(query)}&n={topn}",
        title=f"Search results for `{shown_query}`",
        lines=_without_trailing_blanks(lines),
        links=tuple(links),
        kind="search",
    )


def find_matches(page: Page, pattern: str) -> list[int]:
    """The lines of ``page`` where ``pattern`` starts (case and spacing ignored).

    A match may run on into the next line; at most :data:`MAX_FIND_MATCHES` are found.
    """
    needle = " ".join(pattern.split()).casefold()
    matches: list[int] = []
    for index, line in enumerate(page.lines):
        following = page.lines[index + 1] if index + 1 < len(page.lines) else ""
        position = f"{line} {following}".casefold().find(needle)
        if 0 <= position < len(line):
            matches.append(index)
            if len(matches) >= MAX_FIND_MATCHES:
                break
    return matches


def find_results_page(page: Page, page_index: int, pattern: str) -> Page:
    """The page of the matches of ``pattern`` in ``page`` (stored at ``page_index``)."""
    shown_pattern = sanitize_inline(pattern)
    matches = find_matches(page, pattern)
    lines: list[str] = []
    links: list[Link] = []
    for index in matches:
        link_id = len(links)
        links.append(
            Link(url=page.url, text=f"match at L{index}", page_index=page_index, line=index)
        )
        lines += [f"# 【{link_id}†match at L{index}】", page.lines[index], ""]
    if not matches:
        lines = [f"No `find` results for pattern: `{shown_pattern}`"]
    return Page(
        url=page.url,
        title=f"Find results for text: `{shown_pattern}` in `{page.title}`",
        lines=_without_trailing_blanks(lines),
        links=tuple(links),
        kind="find",
    )


def _without_trailing_blanks(lines: list[str]) -> tuple[str, ...]:
    while lines and lines[-1] == "":
        lines.pop()
    return tuple(lines)
