"""``search``, ``open`` and ``find`` over one session's page stack.

:class:`BrowserFunctions` reads the parsed arguments (:mod:`.arguments`), asks the
search backend, the backend's own documents (``corpus://``) or Chromium
(:mod:`.chromium`), turns what came back into a page, pushes a view of it on the stack
and renders that view (:mod:`.render`) as a ``ToolResult``. Failures are raised as the
browser's errors; :class:`~.tool.BrowserTool` turns them into results.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gptoss_agent.tools.base import ToolResult
from gptoss_agent.tools.browser.arguments import boolean, integer, link_target, text_field
from gptoss_agent.tools.browser.chromium import ChromiumSessions
from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.documents import document_to_page
from gptoss_agent.tools.browser.errors import (
    BadArgumentsError,
    BlockedURLError,
    SearchBackendError,
    TargetNotFoundError,
)
from gptoss_agent.tools.browser.listings import find_results_page, search_results_page
from gptoss_agent.tools.browser.page import Page, PageStack, View
from gptoss_agent.tools.browser.policy import UrlPolicy
from gptoss_agent.tools.browser.render import most_relevant_line, render_view, window
from gptoss_agent.tools.browser.search.base import DocumentSource, SearchBackend

SOURCES = ("web",)
"""The ``source`` values ``search`` and ``open`` accept."""


class BrowserFunctions:
    """The browser's three functions, for any session's page stack.

    Args:
        config: Window size, line width, result counts.
        policy: Refuses URLs with a scheme the browser never opens.
        chromium: Loads web pages.
        backend: Answers ``search`` (and may serve its own documents), or ``None``.
    """

    def __init__(
        self,
        config: BrowserConfig,
        policy: UrlPolicy,
        chromium: ChromiumSessions,
        backend: SearchBackend | None,
    ) -> None:
        self._config = config
        self._policy = policy
        self._chromium = chromium
        self._backend = backend

    async def search(self, args: dict[str, Any], stack: PageStack) -> ToolResult:
        """``browser.search``: ask the backend and show the results as a page."""
        query = text_field(args, "query", "search")
        config = self._config
        topn = integer(args, "topn", config.default_topn)
        topn = max(1, min(topn if topn > 0 else config.default_topn, config.max_topn))
        _check_source(args)
        if self._backend is None:
            raise SearchBackendError(
                "Search is not available (no search backend is configured); open a URL "
                "directly with browser.open instead."
            )
        try:
            hits = await self._backend.search(query, topn)
        except SearchBackendError:
            raise
        except Exception as exc:
            raise SearchBackendError(f"The search failed: {type(exc).__name__}: {exc}") from exc
        page = search_results_page(query, hits, topn, config.line_width)
        return self._show(
            stack, stack.add_page(page), 0, -1, backend=self._backend.name, results=len(page.links)
        )

    async def open(self, args: dict[str, Any], stack: PageStack, session_id: str) -> ToolResult:
        """``browser.open``: a URL, a link of a page, or a scroll of a page."""
        target = link_target(args.get("id", -1))
        cursor = integer(args, "cursor", -1)
        loc = integer(args, "loc", -1)
        num_lines = integer(args, "num_lines", -1)
        view_source = boolean(args, "view_source")
        if isinstance(target, str):
            return await self._open_url(stack, session_id, target, loc, num_lines, view_source)
        view = _view(stack, cursor)
        page = stack.page_of(view)
        if target < 0:  # scroll (or view the source of) the page at cursor
            if view_source and page.kind in ("web", "pdf"):
                return await self._open_url(stack, session_id, page.url, loc, num_lines, True)
            _check_loc(page, loc)
            return self._show(stack, view.page_index, loc if loc >= 0 else 0, num_lines)
        if target >= len(page.links):
            have = f"links 0-{len(page.links) - 1}" if page.links else "no links"
            raise TargetNotFoundError(
                f"Link id {target} is not on page [{view.cursor}] (it has {have}); link ids "
                "are the numbers in 【id†...】 markers."
            )
        link = page.links[target]
        if link.page_index is not None:  # a find result: show the searched page there
            start = loc if loc >= 0 else max(0, (link.line or 0) - 2)
            return self._show(stack, link.page_index, start, num_lines)
        return await self._open_url(
            stack, session_id, link.url, loc, num_lines, view_source, snippet=link.snippet
        )

    def find(self, args: dict[str, Any], stack: PageStack) -> ToolResult:
        """``browser.find``: the matches of a pattern in a page, as a page of links."""
        pattern = text_field(args, "pattern", "find")
        view = _view(stack, integer(args, "cursor", -1))
        result = find_results_page(stack.page_of(view), view.page_index, pattern)
        return self._show(stack, stack.add_page(result), 0, -1, matches=len(result.links))

    async def _open_url(
        self,
        stack: PageStack,
        session_id: str,
        url: str,
        loc: int,
        num_lines: int,
        view_source: bool,
        snippet: str | None = None,
    ) -> ToolResult:
        page, meta = await self._load(session_id, url, view_source)
        start = 0
        if loc >= 0:
            _check_loc(page, loc)
            start = loc
        elif snippet:
            best = most_relevant_line(page, snippet)
            if best is not None:
                start = max(0, best - 2)
        return self._show(stack, stack.add_page(page), start, num_lines, **meta)

    async def _load(
        self, session_id: str, url: str, view_source: bool
    ) -> tuple[Page, dict[str, Any]]:
        """The page at ``url`` (from the backend's documents or Chromium) and its metadata."""
        url = url.strip()
        if "://" not in url and not url.lower().startswith(("data:", "javascript:", "about:")):
            url = "https://" + url  # "example.com/x": the model meant the web
        if isinstance(self._backend, DocumentSource) and self._backend.owns(url):
            return await self._backend.load(url), {}
        verdict = self._policy.check_scheme(url)
        if not verdict.allowed:
            raise BlockedURLError(f"Refused to open {url}: {verdict.reason}.")
        document = await self._chromium.load(session_id, url, view_source=view_source)
        page = await asyncio.to_thread(document_to_page, document, view_source, self._config)
        return page, document.metadata()

    def _show(
        self, stack: PageStack, page_index: int, start: int, num_lines: int, **meta: Any
    ) -> ToolResult:
        """Push a view of lines from ``start`` of a stored page and render it."""
        page = stack.pages[page_index]
        start, end = window(page, start, num_lines, self._config.view_tokens)
        view = stack.push(page_index, start, end)
        text = render_view(view.cursor, page, start, end)
        notice = meta.get("notice")
        if notice:
            text += f"\n\n({notice})"
        return ToolResult(
            text=text,
            metadata={
                "cursor": view.cursor,
                "url": page.url,
                "title": page.title,
                "kind": page.kind,
                "lines": [start, end],
                "total_lines": len(page.lines),
                **meta,
            },
        )


def _check_source(args: dict[str, Any]) -> None:
    source = args.get("source")
    if source not in (None, "", *SOURCES):
        raise BadArgumentsError(
            f"Unknown source {source!r}; available sources: {', '.join(SOURCES)}."
        )


def _view(stack: PageStack, cursor: int) -> View:
    """The view under ``cursor`` (``-1``: the latest one)."""
    view = stack.view(cursor)
    if view is not None:
        return view
    if not stack.views:
        raise TargetNotFoundError(
            'No page is open yet: search first, or open a URL with {"id": "https://..."}.'
        )
    raise TargetNotFoundError(
        f"There is no cursor {cursor}; valid cursors are 0-{len(stack.views) - 1}."
    )


def _check_loc(page: Page, loc: int) -> None:
    if loc >= len(page.lines) > 0:
        raise TargetNotFoundError(
            f"loc {loc} is past the end of {page.url} (its last line is {len(page.lines) - 1})."
        )
