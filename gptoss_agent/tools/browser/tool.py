"""The ``browser`` tool: ``search``, ``open`` and ``find`` over a per-session page stack.

:class:`BrowserTool` implements the ``Tool`` and ``StatefulTool`` protocols. It parses
the model's JSON arguments leniently, dispatches to the search backend, to the
backend's own documents (``corpus://``) or to Chromium (:mod:`.chromium`), turns what
came back into a :class:`~.page.Page`, pushes a view on the session's stack and renders
it (:mod:`.render`). Every failure the model can react to comes back as
``ToolResult.error`` with a readable message; the run never crashes on a browser error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.browser.chromium import ChromiumSessions, LoadedDocument
from gptoss_agent.tools.browser.citations import CitationReport, check_citations
from gptoss_agent.tools.browser.config import BrowserConfig
from gptoss_agent.tools.browser.errors import (
    BadArgumentsError,
    BlockedURLError,
    BrowserError,
    SearchBackendError,
)
from gptoss_agent.tools.browser.html_text import HtmlOptions, html_to_page, source_to_page
from gptoss_agent.tools.browser.page import Link, Page, PageStack
from gptoss_agent.tools.browser.pdf_text import pdf_to_page
from gptoss_agent.tools.browser.policy import Allowlist, SystemResolver, UrlPolicy
from gptoss_agent.tools.browser.render import (
    link_marker,
    most_relevant_line,
    render_view,
    sanitize_inline,
    window,
    wrap_line,
)
from gptoss_agent.tools.browser.search.base import DocumentSource, SearchBackend
from gptoss_agent.tools.browser.spec import BROWSER_SPEC
from gptoss_agent.tools.errors import ToolUnavailableError

log = logging.getLogger(__name__)

FUNCTIONS = ("search", "open", "find")
SOURCES = ("web",)
MAX_FIND_MATCHES = 200


class BrowserTool:
    """gpt-oss's built-in ``browser`` tool on a real headless Chromium."""

    def __init__(
        self,
        backend: SearchBackend | None = None,
        config: BrowserConfig | None = None,
        *,
        policy: UrlPolicy | None = None,
    ) -> None:
        """Create the tool; Chromium starts on the first page load, not here.

        Args:
            backend: Answers ``browser.search``; ``None`` makes search report that no
                backend is configured (``open`` with URLs still works).
            config: Browser settings; defaults are fine for the open web.
            policy: The safety policy; by default built from ``config.allowlist`` and
                ``config.host_map``.
        """
        self._config = config or BrowserConfig()
        self._policy = policy or UrlPolicy(
            allowlist=Allowlist.parse(self._config.allowlist),
            resolver=SystemResolver(self._config.host_map),
        )
        self._backend = backend
        self._chromium = ChromiumSessions(self._config, self._policy)
        self._stacks: dict[str, PageStack] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._html_options = HtmlOptions(line_width=self._config.line_width)

    # -- Tool protocol ---------------------------------------------------------------

    @property
    def spec(self) -> NamespaceSpec:
        """The trained ``browser`` namespace (search, open, find)."""
        return BROWSER_SPEC

    @property
    def config(self) -> BrowserConfig:
        """The settings this tool runs with."""
        return self._config

    @property
    def backend(self) -> SearchBackend | None:
        """The search backend, if one is configured."""
        return self._backend

    @property
    def chromium(self) -> ChromiumSessions:
        """The browser manager (for diagnostics, benchmarks and tests)."""
        return self._chromium

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run ``browser.search`` / ``browser.open`` / ``browser.find``."""
        if call.name not in FUNCTIONS:
            return ToolResult.error(
                f"Unknown function browser.{call.name}; the browser has "
                + ", ".join(f"browser.{name}" for name in FUNCTIONS)
                + ".",
                error="BadArgumentsError",
            )
        lock = self._locks.setdefault(context.session_id, asyncio.Lock())
        async with lock:
            try:
                args = parse_arguments(call.arguments, call.name)
                stack = self._stacks.setdefault(context.session_id, PageStack())
                if call.name == "search":
                    return await self._search(args, stack)
                if call.name == "open":
                    return await self._open(args, stack, context.session_id)
                return self._find(args, stack)
            except BrowserError as exc:
                return ToolResult.error(str(exc), error=type(exc).__name__)
            except ToolUnavailableError as exc:
                return ToolResult.error(str(exc), error="ToolUnavailableError")
            except Exception as exc:  # the model must get an answer, whatever broke
                log.exception("browser.%s failed", call.name)
                return ToolResult.error(
                    f"The browser failed unexpectedly ({type(exc).__name__}: {exc}).",
                    error=type(exc).__name__,
                )

    async def aclose(self) -> None:
        """Close every browser context, Chromium, and the search backend. Idempotent."""
        await self._chromium.aclose()
        if self._backend is not None:
            await self._backend.aclose()

    # -- StatefulTool protocol -------------------------------------------------------

    def snapshot(self, session_id: str) -> Mapping[str, Any]:
        """The session's page stack as JSON-serialisable data."""
        stack = self._stacks.get(session_id)
        return stack.snapshot() if stack is not None else {}

    def restore(self, session_id: str, state: Mapping[str, Any]) -> None:
        """Load a page stack saved by :meth:`snapshot`; earlier cursors resolve again."""
        self._stacks[session_id] = PageStack.restore(state) if state else PageStack()

    # -- extras ----------------------------------------------------------------------

    def check_citations(self, session_id: str, text: str) -> CitationReport:
        """Resolve and check the ``【cursor†Lx-Ly】`` citations of a final answer."""
        return check_citations(text, self._stacks.get(session_id))

    def stack(self, session_id: str) -> PageStack | None:
        """The session's page stack, if it has browsed."""
        return self._stacks.get(session_id)

    async def close_session(self, session_id: str) -> None:
        """Free the session's browser context; its page stack is kept for citations."""
        await self._chromium.close_session(session_id)

    # -- the three functions ---------------------------------------------------------

    async def _search(self, args: dict[str, Any], stack: PageStack) -> ToolResult:
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadArgumentsError('browser.search needs a non-empty "query" string.')
        topn = _int(args, "topn", self._config.default_topn)
        topn = max(1, min(topn if topn > 0 else self._config.default_topn, self._config.max_topn))
        source = args.get("source")
        if source not in (None, "", *SOURCES):
            raise BadArgumentsError(
                f"Unknown source {source!r}; available sources: {', '.join(SOURCES)}."
            )
        if self._backend is None:
            raise SearchBackendError(
                "Search is not available (no search backend is configured); open a URL "
                "directly with browser.open instead."
            )
        try:
            hits = await self._backend.search(query.strip(), topn)
        except SearchBackendError:
            raise
        except Exception as exc:
            raise SearchBackendError(f"The search failed: {type(exc).__name__}: {exc}") from exc
        shown_query = sanitize_inline(query)
        lines: list[str] = []
        links: list[Link] = []
        for hit in list(hits)[:topn]:
            link_id = len(links)
            links.append(Link(url=hit.url, text=sanitize_inline(hit.title), snippet=hit.snippet))
            parts = urlsplit(hit.url)
            domain = (parts.hostname if parts.scheme in ("http", "https") else "") or parts.scheme
            lines.extend(
                wrap_line(
                    "* " + link_marker(link_id, hit.title or hit.url, domain),
                    self._config.line_width,
                )
            )
            if hit.snippet.strip():
                lines.extend(wrap_line(sanitize_inline(hit.snippet), self._config.line_width))
            lines.append("")
        if not links:
            lines = [f"No results found for `{shown_query}`."]
        while lines and lines[-1] == "":
            lines.pop()
        page = Page(
            url=f"web-search://?q={quote(query.strip())}&n={topn}",
            title=f"Search results for `{shown_query}`",
            lines=tuple(lines),
            links=tuple(links),
            kind="search",
        )
        return self._show(
            stack, stack.add_page(page), 0, -1, backend=self._backend.name, results=len(links)
        )

    async def _open(self, args: dict[str, Any], stack: PageStack, session_id: str) -> ToolResult:
        target = _link_id(args.get("id", -1))
        cursor = _int(args, "cursor", -1)
        loc = _int(args, "loc", -1)
        num_lines = _int(args, "num_lines", -1)
        view_source = _bool(args, "view_source")
        if isinstance(target, str):
            return await self._open_url(stack, session_id, target, loc, num_lines, view_source)
        view = stack.view(cursor)
        if view is None:
            if not stack.views:
                raise BadArgumentsError(
                    'No page is open yet: search first, or open a URL with {"id": "https://..."}.'
                )
            raise BadArgumentsError(
                f"There is no cursor {cursor}; valid cursors are 0-{len(stack.views) - 1}."
            )
        page = stack.page_of(view)
        if target < 0:  # scroll (or view the source of) the page at cursor
            if view_source and page.kind in ("web", "pdf"):
                return await self._open_url(stack, session_id, page.url, loc, num_lines, True)
            _check_loc(page, loc)
            return self._show(stack, view.page_index, loc if loc >= 0 else 0, num_lines)
        if target >= len(page.links):
            have = f"links 0-{len(page.links) - 1}" if page.links else "no links"
            raise BadArgumentsError(
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
        url = url.strip()
        if "://" not in url and not url.lower().startswith(("data:", "javascript:", "about:")):
            url = "https://" + url  # "example.com/x": the model meant the web
        page: Page
        meta: dict[str, Any] = {}
        if isinstance(self._backend, DocumentSource) and self._backend.owns(url):
            page = await self._backend.load(url)
        else:
            verdict = self._policy.check_scheme(url)
            if not verdict.allowed:
                raise BlockedURLError(f"Refused to open {url}: {verdict.reason}.")
            document = await self._chromium.load(session_id, url, view_source=view_source)
            page = await asyncio.to_thread(self._document_to_page, document, view_source)
            meta = {
                "requested_url": document.requested_url,
                "status": document.status,
                "content_type": document.content_type,
                "redirected": document.redirected,
                "load_ms": round(document.elapsed_ms, 1),
                "blocked_requests": [
                    {"url": b.url, "reason": b.reason, "kind": b.kind} for b in document.blocked
                ],
            }
            if document.notice:
                meta["notice"] = document.notice
        start = 0
        if loc >= 0:
            _check_loc(page, loc)
            start = loc
        elif snippet:
            best = most_relevant_line(page, snippet)
            if best is not None:
                start = max(0, best - 2)
        return self._show(stack, stack.add_page(page), start, num_lines, **meta)

    def _document_to_page(self, document: LoadedDocument, view_source: bool) -> Page:
        if document.pdf is not None:
            page = pdf_to_page(
                document.pdf, document.url, self._config.line_width, self._config.max_pdf_pages
            )
        elif view_source and document.source is not None:
            page = source_to_page(document.source, document.url, self._config.line_width)
        else:
            page = html_to_page(document.html or "", document.url, self._html_options)
            if document.title.strip():
                page = _replace(page, title=sanitize_inline(document.title))
        if document.truncated and not page.truncated:
            page = _replace(page, truncated=True)
        if not page.title:
            page = _replace(page, title=document.url)
        return page

    def _find(self, args: dict[str, Any], stack: PageStack) -> ToolResult:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            raise BadArgumentsError('browser.find needs a non-empty "pattern" string.')
        cursor = _int(args, "cursor", -1)
        view = stack.view(cursor)
        if view is None:
            raise BadArgumentsError(
                "No page is open to search in."
                if not stack.views
                else f"There is no cursor {cursor}; valid cursors are 0-{len(stack.views) - 1}."
            )
        page = stack.page_of(view)
        needle = " ".join(pattern.split()).casefold()
        matches: list[int] = []
        for index, line in enumerate(page.lines):
            following = page.lines[index + 1] if index + 1 < len(page.lines) else ""
            joined = f"{line} {following}".casefold()
            position = joined.find(needle)
            if 0 <= position < len(line):
                matches.append(index)
                if len(matches) >= MAX_FIND_MATCHES:
                    break
        shown_pattern = sanitize_inline(pattern)
        lines: list[str] = []
        links: list[Link] = []
        for index in matches:
            link_id = len(links)
            links.append(
                Link(
                    url=page.url, text=f"match at L{index}", page_index=view.page_index, line=index
                )
            )
            lines.append(f"# 【{link_id}†match at L{index}】")
            lines.append(page.lines[index])
            lines.append("")
        if not matches:
            lines = [f"No `find` results for pattern: `{shown_pattern}`"]
        while lines and lines[-1] == "":
            lines.pop()
        result = Page(
            url=page.url,
            title=f"Find results for text: `{shown_pattern}` in `{page.title}`",
            lines=tuple(lines),
            links=tuple(links),
            kind="find",
        )
        return self._show(stack, stack.add_page(result), 0, -1, matches=len(matches))

    def _show(
        self, stack: PageStack, page_index: int, start: int, num_lines: int, **meta: Any
    ) -> ToolResult:
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


def from_task_settings(
    settings: Mapping[str, Any], *, base_dir: str | Path | None = None
) -> BrowserTool:
    """Build the tool from a task file's ``tools.browser`` section.

    Args:
        settings: ``search`` (``backend``: ``local`` | ``searxng`` | ``brave``, ``corpus``,
            ``url``, ``api_key_env``), ``allow`` (hosts/CIDRs), ``chromium`` (path) and
            ``page_timeout_s``.
        base_dir: Folder that relative paths (the corpus) are resolved against.

    Raises:
        ValueError: The settings name an unknown backend or lack what it needs.
    """
    from gptoss_agent.tools.browser.search import (
        BraveSearchBackend,
        LocalCorpusBackend,
        SearxngBackend,
    )

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    search = dict(settings.get("search") or {})
    backend: SearchBackend | None = None
    kind = search.get("backend")
    if kind == "local":
        if not search.get("corpus"):
            raise ValueError("tools.browser.search: the local backend needs `corpus` (a folder)")
        backend = LocalCorpusBackend(base / str(search["corpus"]))
    elif kind == "searxng":
        if not search.get("url"):
            raise ValueError("tools.browser.search: the searxng backend needs `url`")
        backend = SearxngBackend(str(search["url"]))
    elif kind == "brave":
        brave_options: dict[str, Any] = {}
        if search.get("url"):
            brave_options["endpoint"] = str(search["url"])
        if search.get("api_key_env"):
            brave_options["api_key_env"] = str(search["api_key_env"])
        backend = BraveSearchBackend(**brave_options)
    elif kind is not None:
        raise ValueError(f"tools.browser.search: unknown backend {kind!r}")
    options: dict[str, Any] = {"allowlist": tuple(str(a) for a in settings.get("allow", ()))}
    if settings.get("chromium"):
        options["executable_path"] = str(settings["chromium"])
    if settings.get("page_timeout_s"):
        options["load_timeout_s"] = float(settings["page_timeout_s"])
    return BrowserTool(backend, BrowserConfig(**options))


def parse_arguments(raw: str, function: str) -> dict[str, Any]:
    """Parse the model's arguments leniently into a dict.

    Accepts an empty message (no arguments), JSON wrapped in a code fence, and trailing
    text after the JSON object. A bare JSON string is taken as the ``query`` of a
    search, the ``id`` of an open and the ``pattern`` of a find.

    Raises:
        BadArgumentsError: With a message that shows the expected shape.
    """
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
        text = text.strip()
    if not text:
        return {}
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        example = {"search": '{"query": "..."}', "open": '{"id": 3}', "find": '{"pattern": "..."}'}[
            function
        ]
        raise BadArgumentsError(
            f"The arguments of browser.{function} are not valid JSON ({exc}); send an object "
            f"such as {example}."
        ) from exc
    if isinstance(value, str):
        key = {"search": "query", "open": "id", "find": "pattern"}[function]
        return {key: value}
    if not isinstance(value, dict):
        raise BadArgumentsError(
            f"The arguments of browser.{function} must be a JSON object, not "
            f"{type(value).__name__}."
        )
    return value


def _int(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadArgumentsError(f"`{key}` must be a number, not {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise BadArgumentsError(f"`{key}` must be a whole number, not {value!r}.")


def _bool(args: Mapping[str, Any], key: str) -> bool:
    value = args.get(key, False)
    if isinstance(value, bool):
        return value
    if value in (None, 0, 1, "true", "false", "True", "False"):
        return value in (1, "true", "True")
    raise BadArgumentsError(f"`{key}` must be true or false, not {value!r}.")


def _link_id(value: Any) -> int | str:
    """``id`` as a link number, or a URL string."""
    if value is None:
        return -1
    if isinstance(value, bool):
        raise BadArgumentsError(f"`id` must be a link number or a URL, not {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        if stripped:
            return stripped
    raise BadArgumentsError(f"`id` must be a link number or a URL, not {value!r}.")


def _check_loc(page: Page, loc: int) -> None:
    if loc >= len(page.lines) > 0:
        raise BadArgumentsError(
            f"loc {loc} is past the end of {page.url} (its last line is {len(page.lines) - 1})."
        )


def _replace(page: Page, **changes: Any) -> Page:
    from dataclasses import replace

    return replace(page, **changes)
