"""Citations in a final answer: ``【cursor†Lx-Ly】`` resolved to URLs and checked.

gpt-oss cites browsing results as ``【{cursor}†L{start}(-L{end})?】``. Given the answer
text and the session's :class:`~.page.PageStack`, :func:`check_citations` finds every
citation, resolves it to the URL of the page behind the cursor (for a search-results
page: the result linked on the cited lines; for a find page: the page searched), and
flags cursors that do not exist, lines outside the page, and lines the model was never
shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gptoss_agent.tools.browser.page import PageStack
from gptoss_agent.tools.browser.render import MARKER_RE

CITATION_RE = re.compile(r"【(\d+)†L(\d+)(?:\s*-\s*L?(\d+))?(?:†[^【】]*)?】")

OK = "ok"
UNKNOWN_CURSOR = "unknown_cursor"
OUT_OF_RANGE = "out_of_range"
NOT_SHOWN = "not_shown"


@dataclass(frozen=True)
class Citation:
    """One citation found in an answer.

    Attributes:
        marker: The citation as written (``【6†L9-L11】``).
        start: Offset of the marker in the answer text.
        cursor: The cursor cited.
        line_start: First line cited.
        line_end: Last line cited (inclusive; equals ``line_start`` for ``【8†L3】``).
        status: ``ok``, ``unknown_cursor``, ``out_of_range`` or ``not_shown``.
        url: The URL the citation resolves to, or ``None`` for an unknown cursor.
        title: That page's title, or ``None``.
        problem: A human-readable explanation when ``status`` is not ``ok``.
    """

    marker: str
    start: int
    cursor: int
    line_start: int
    line_end: int
    status: str
    url: str | None = None
    title: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the citation resolved and every cited line was shown to the model."""
        return self.status == OK

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form for run results and transcripts."""
        return {
            "marker": self.marker,
            "start": self.start,
            "cursor": self.cursor,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "status": self.status,
            "url": self.url,
            "title": self.title,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class CitationReport:
    """Every citation of an answer, in order of appearance.

    Attributes:
        citations: The citations found.
    """

    citations: tuple[Citation, ...] = ()

    @property
    def ok(self) -> bool:
        """``True`` when no citation has a problem (also when there are none)."""
        return all(c.ok for c in self.citations)

    @property
    def problems(self) -> tuple[Citation, ...]:
        """The citations that did not check out."""
        return tuple(c for c in self.citations if not c.ok)

    @property
    def urls(self) -> tuple[str, ...]:
        """The distinct URLs cited, in order of first appearance."""
        seen: dict[str, None] = {}
        for citation in self.citations:
            if citation.url:
                seen.setdefault(citation.url, None)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form for run results and transcripts."""
        return {"ok": self.ok, "citations": [c.to_json() for c in self.citations]}


def check_citations(text: str, stack: PageStack | None) -> CitationReport:
    """Find, resolve and check the citations in ``text``.

    Args:
        text: The final answer.
        stack: The session's page stack (``None``: the session never browsed, so every
            citation has an unknown cursor).

    Returns:
        A report with one :class:`Citation` per marker.
    """
    found: list[Citation] = []
    for match in CITATION_RE.finditer(text):
        cursor = int(match.group(1))
        line_start = int(match.group(2))
        line_end = int(match.group(3)) if match.group(3) is not None else line_start
        base = _Where(match.group(0), match.start(), cursor, line_start, line_end)
        view = stack.view(cursor) if stack is not None else None
        if stack is None or view is None:
            found.append(
                base.citation(
                    status=UNKNOWN_CURSOR, problem=f"no page was shown under cursor {cursor}"
                )
            )
            continue
        page = stack.page_of(view)
        url = _resolve_url(stack, view.page_index, line_start, line_end)
        last = len(page.lines) - 1
        if line_end < line_start or line_end > last:
            found.append(
                base.citation(
                    status=OUT_OF_RANGE,
                    url=url,
                    title=page.title,
                    problem=f"cursor {cursor} has lines 0-{last}; L{line_start}-L{line_end} "
                    "is not a range within them",
                )
            )
            continue
        shown = stack.shown_lines(view.page_index)
        missing = [line for line in range(line_start, line_end + 1) if line not in shown]
        if missing:
            found.append(
                base.citation(
                    status=NOT_SHOWN,
                    url=url,
                    title=page.title,
                    problem=f"line(s) {_ranges(missing)} of cursor {cursor} were never shown",
                )
            )
            continue
        found.append(base.citation(status=OK, url=url, title=page.title))
    return CitationReport(tuple(found))


@dataclass(frozen=True)
class _Where:
    marker: str
    start: int
    cursor: int
    line_start: int
    line_end: int

    def citation(
        self,
        status: str,
        url: str | None = None,
        title: str | None = None,
        problem: str | None = None,
    ) -> Citation:
        return Citation(
            self.marker,
            self.start,
            self.cursor,
            self.line_start,
            self.line_end,
            status,
            url,
            title,
            problem,
        )


def _resolve_url(stack: PageStack, page_index: int, line_start: int, line_end: int) -> str:
    """The URL a citation of these lines stands for."""
    page = stack.pages[page_index]
    if page.kind not in ("search", "find"):
        return page.url
    # The cited lines, then the lines above them: a result's snippet follows its link.
    candidates = [*range(line_start, line_end + 1), *range(line_start - 1, -1, -1)]
    for index in candidates:
        if not 0 <= index < len(page.lines):
            continue
        for marker in MARKER_RE.finditer(page.lines[index]):
            link_id = int(marker.group(1))
            if 0 <= link_id < len(page.links):
                link = page.links[link_id]
                if link.page_index is not None and 0 <= link.page_index < len(stack.pages):
                    return stack.pages[link.page_index].url
                return link.url
    return page.url


def _ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``L1-L3, L7``."""
    parts: list[str] = []
    start = prev = lines[0]
    for line in [*lines[1:], None]:
        if line is not None and line == prev + 1:
            prev = line
            continue
        parts.append(f"L{start}" if start == prev else f"L{start}-L{prev}")
        if line is not None:
            start = prev = line
    return ", ".join(parts)
