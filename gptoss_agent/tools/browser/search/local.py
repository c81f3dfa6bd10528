"""An offline search backend: an SQLite FTS5 full-text index over a folder of documents.

For air-gapped machines and for tests. Files ending in ``.txt``, ``.md``, ``.html``,
``.htm`` and ``.pdf`` under the folder are indexed (title, text). A result's URL is the
document's canonical URL when an HTML file declares one (``<link rel="canonical">``),
so opening it goes to the web through the browser; otherwise it is
``corpus://<relative path>``, served by this backend itself without a browser.

The index is rebuilt when the set of files (names, sizes, modification times) changes.
It lives in memory unless ``index_path`` names a file.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from gptoss_agent.tools.browser.errors import PageLoadError, SearchBackendError
from gptoss_agent.tools.browser.page import Page
from gptoss_agent.tools.browser.render import sanitize, sanitize_inline, text_to_lines
from gptoss_agent.tools.browser.search.base import SearchHit

SCHEME = "corpus"
SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
_TERM_RE = re.compile(r"\w+", re.UNICODE)
_CANONICAL_RE = re.compile(
    r"<link[^>]+rel=[\"']?canonical[\"']?[^>]*href=[\"']([^\"']+)[\"']", re.IGNORECASE
)


class LocalCorpusBackend:
    """Full-text search over the documents in a folder (SQLite FTS5, BM25 ranking)."""

    def __init__(self, folder: str | Path, *, index_path: str | Path | None = None) -> None:
        """Create the backend; the index is built on first use.

        Args:
            folder: The folder whose documents are searched (recursively).
            index_path: Where to keep the index; ``None`` keeps it in memory.
        """
        self._folder = Path(folder).resolve()
        self._index_path = str(index_path) if index_path is not None else ":memory:"
        self._conn: sqlite3.Connection | None = None
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``local``."""
        return "local"

    @property
    def folder(self) -> Path:
        """The indexed folder."""
        return self._folder

    async def search(self, query: str, topn: int) -> Sequence[SearchHit]:
        """BM25-ranked hits for ``query``: all terms first, any term as a fallback."""
        return await asyncio.to_thread(self._search, query, topn)

    def owns(self, url: str) -> bool:
        """Whether ``url`` is a ``corpus://`` URL."""
        return url.lower().startswith(f"{SCHEME}://")

    async def load(self, url: str) -> Page:
        """The document behind a ``corpus://`` URL, converted like a web page."""
        return await asyncio.to_thread(self._load, url)

    async def aclose(self) -> None:
        """Close the index."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._signature = None

    def refresh(self) -> int:
        """Rebuild the index now if files changed; returns the number of documents."""
        with self._lock:
            conn = self._ensure_index()
            return int(conn.execute("SELECT count(*) FROM docs").fetchone()[0])

    # -- internals -------------------------------------------------------------------

    def _files(self) -> list[Path]:
        if not self._folder.is_dir():
            raise SearchBackendError(f"The local corpus folder {self._folder} does not exist")
        return sorted(
            p
            for p in self._folder.rglob("*")
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
        )

    def _ensure_index(self) -> sqlite3.Connection:
        files = self._files()
        signature = tuple(
            (str(p.relative_to(self._folder)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in files
        )
        if self._conn is not None and signature == self._signature:
            return self._conn
        if self._conn is None:
            self._conn = sqlite3.connect(self._index_path, check_same_thread=False)
        conn = self._conn
        with conn:
            conn.execute("DROP TABLE IF EXISTS docs")
            conn.execute(
                "CREATE VIRTUAL TABLE docs USING fts5("
                "title, body, url UNINDEXED, path UNINDEXED, tokenize='porter unicode61')"
            )
            for path in files:
                try:
                    page, url = self._read(path)
                except PageLoadError:
                    continue
                conn.execute(
                    "INSERT INTO docs(title, body, url, path) VALUES (?, ?, ?, ?)",
                    (page.title, "\n".join(page.lines), url, str(path.relative_to(self._folder))),
                )
        self._signature = signature
        return conn

    def _search(self, query: str, topn: int) -> list[SearchHit]:
        terms = _TERM_RE.findall(query)
        if not terms:
            return []
        with self._lock:
            try:
                conn = self._ensure_index()
            except sqlite3.Error as exc:
                raise SearchBackendError(f"The local corpus index failed: {exc}") from exc
            quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
            rows: list[tuple[str, str, str]] = []
            for expression in (" AND ".join(quoted), " OR ".join(quoted)):
                rows = conn.execute(
                    "SELECT title, url, snippet(docs, 1, '', '', ' … ', 24) FROM docs "
                    "WHERE docs MATCH ? ORDER BY bm25(docs, 5.0, 1.0) LIMIT ?",
                    (expression, topn),
                ).fetchall()
                if rows:
                    break
        return [
            SearchHit(title=title, url=url, snippet=sanitize_inline(snippet))
            for title, url, snippet in rows
        ]

    def _read(self, path: Path) -> tuple[Page, str]:
        """Convert a file to a page; returns the page and the URL its hits should use."""
        from gptoss_agent.tools.browser.html_text import html_to_page
        from gptoss_agent.tools.browser.pdf_text import pdf_to_page

        relative = path.relative_to(self._folder).as_posix()
        own_url = f"{SCHEME}://{quote(relative)}"
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            page = pdf_to_page(path.read_bytes(), own_url)
            return _as_corpus(page, path), own_url
        text = path.read_text("utf-8", errors="replace")
        if suffix in (".html", ".htm"):
            match = _CANONICAL_RE.search(text)
            canonical = match.group(1) if match else None
            url = (
                canonical
                if canonical and urlsplit(canonical).scheme in ("http", "https")
                else own_url
            )
            page = html_to_page(text, own_url)
            return _as_corpus(page, path), url
        title = path.stem
        for line in text.splitlines():
            if line.strip():
                title = line.strip().lstrip("#").strip() or path.stem
                break
        page = Page(
            url=own_url,
            title=sanitize_inline(title),
            lines=text_to_lines(sanitize(text)),
            kind="corpus",
        )
        return _as_corpus(page, path), own_url

    def _load(self, url: str) -> Page:
        parts = urlsplit(url)
        relative = unquote(parts.netloc + parts.path)
        candidate = (self._folder / relative).resolve()
        if (
            not candidate.is_relative_to(self._folder)
            or not candidate.is_file()
            or candidate.suffix.lower() not in SUFFIXES
        ):
            raise PageLoadError(f"There is no document {url} in the local corpus.")
        page, _ = self._read(candidate)
        return page


def _as_corpus(page: Page, path: Path) -> Page:
    return Page(
        url=page.url,
        title=page.title or path.stem,
        lines=page.lines,
        links=page.links,
        kind="corpus" if page.kind == "web" else page.kind,
        truncated=page.truncated,
    )
