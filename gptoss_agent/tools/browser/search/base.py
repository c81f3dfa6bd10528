"""The search-backend seam: what a backend returns and the protocols it implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gptoss_agent.tools.browser.page import Page


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    Attributes:
        title: The result's title (plain text).
        url: Where it points; opened with ``browser.open`` (http(s), or a URL scheme
            the backend serves itself, see :class:`DocumentSource`).
        snippet: A short passage from the result (plain text).
    """

    title: str
    url: str
    snippet: str = ""


@runtime_checkable
class SearchBackend(Protocol):
    """Something ``browser.search`` can ask.

    Implementations raise :class:`~gptoss_agent.tools.browser.errors.SearchBackendError`
    with a model-readable message when they fail.
    """

    @property
    def name(self) -> str:
        """Short name used in pseudo-URLs and metadata (``searxng``, ``local``)."""
        ...

    async def search(self, query: str, topn: int) -> Sequence[SearchHit]:
        """Up to ``topn`` results for ``query``, best first."""
        ...

    async def aclose(self) -> None:
        """Release connections or files. Idempotent."""
        ...


@runtime_checkable
class DocumentSource(Protocol):
    """A backend that also serves the documents its results point to (no browser)."""

    def owns(self, url: str) -> bool:
        """Whether ``url`` is one of this backend's own document URLs."""
        ...

    async def load(self, url: str) -> Page:
        """The document at ``url`` as a page; raises ``PageLoadError`` if missing."""
        ...
