"""Pages and the per-session page stack the model addresses by cursor.

A :class:`Page` is a document turned into numbered lines plus the links found in it
(``【id†text】`` markers in the lines refer to ``Page.links[id]``). Every display the tool
returns (a search result list, an opened page, a scroll, a find result) is pushed on the
session's :class:`PageStack` and gets the next cursor, so a cursor the model saw in an
earlier turn keeps meaning the same thing. The stack also remembers which lines of each
page were shown, which is what citations are checked against. It snapshots to JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PAGE_KINDS = ("web", "pdf", "source", "search", "find", "corpus")


@dataclass(frozen=True)
class Link:
    """A link the model can follow with ``open(id=...)``.

    Attributes:
        url: Where the link goes (absolute). For find results, the page searched.
        text: The link text as shown in the marker.
        page_index: For find results: index of the page (in the session) to show
            instead of loading ``url`` again; ``None`` for ordinary links.
        line: For find results: the line to show; ``None`` otherwise.
        snippet: For search results: the engine's snippet, used to centre the view
            on the most relevant passage when the page is opened.
    """

    url: str
    text: str
    page_index: int | None = None
    line: int | None = None
    snippet: str | None = None


@dataclass(frozen=True)
class Page:
    """A document as the model sees it: a title, a URL and numbered lines.

    Attributes:
        url: The final URL (after redirects), or a pseudo-URL for search/find pages.
        title: The document title (sanitised).
        lines: The text, one display line per entry (sanitised, link markers inserted).
        links: Links by id: ``【3†...】`` in ``lines`` refers to ``links[3]``.
        kind: One of ``web``, ``pdf``, ``source``, ``search``, ``find``, ``corpus``.
        truncated: Whether the document was cut to the size cap.
    """

    url: str
    title: str
    lines: tuple[str, ...]
    links: tuple[Link, ...] = ()
    kind: str = "web"
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (see :meth:`from_json`)."""
        return {
            "url": self.url,
            "title": self.title,
            "lines": list(self.lines),
            "links": [
                {k: v for k, v in vars(link).items() if v is not None} for link in self.links
            ],
            "kind": self.kind,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Page:
        """Inverse of :meth:`to_json`."""
        return cls(
            url=str(data["url"]),
            title=str(data.get("title", "")),
            lines=tuple(str(line) for line in data.get("lines", ())),
            links=tuple(Link(**dict(link)) for link in data.get("links", ())),
            kind=str(data.get("kind", "web")),
            truncated=bool(data.get("truncated", False)),
        )


@dataclass(frozen=True)
class View:
    """One display: which page, and which lines of it, under which cursor.

    Attributes:
        cursor: The number shown as ``[cursor]`` in the header.
        page_index: Index of the page in the session's page list.
        start: First line shown.
        end: Last line shown (inclusive); ``start - 1`` for an empty page.
    """

    cursor: int
    page_index: int
    start: int
    end: int


@dataclass
class PageStack:
    """The per-session browsing state: pages, the views of them, and what was shown."""

    pages: list[Page] = field(default_factory=list)
    views: list[View] = field(default_factory=list)

    def add_page(self, page: Page) -> int:
        """Store ``page`` and return its index (pages are shared between views)."""
        self.pages.append(page)
        return len(self.pages) - 1

    def push(self, page_index: int, start: int, end: int) -> View:
        """Record a display of lines ``start..end`` of a page under a new cursor."""
        view = View(cursor=len(self.views), page_index=page_index, start=start, end=end)
        self.views.append(view)
        return view

    def view(self, cursor: int) -> View | None:
        """The view under ``cursor``; ``-1`` (or any negative) is the most recent one."""
        if not self.views:
            return None
        if cursor < 0:
            return self.views[-1]
        if cursor >= len(self.views):
            return None
        return self.views[cursor]

    def page_of(self, view: View) -> Page:
        """The page a view shows."""
        return self.pages[view.page_index]

    def shown_lines(self, page_index: int) -> set[int]:
        """Every line of a page that was displayed under any cursor."""
        shown: set[int] = set()
        for view in self.views:
            if view.page_index == page_index:
                shown.update(range(view.start, view.end + 1))
        return shown

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state (see :meth:`restore`)."""
        return {
            "version": 1,
            "pages": [page.to_json() for page in self.pages],
            "views": [[v.page_index, v.start, v.end] for v in self.views],
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> PageStack:
        """Rebuild a stack from :meth:`snapshot` output."""
        stack = cls(pages=[Page.from_json(page) for page in data.get("pages", ())])
        for page_index, start, end in data.get("views", ()):
            if not 0 <= int(page_index) < len(stack.pages):
                raise ValueError(f"view refers to missing page {page_index}")
            stack.push(int(page_index), int(start), int(end))
        return stack
