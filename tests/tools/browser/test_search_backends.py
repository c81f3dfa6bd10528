"""Search backends: the local FTS5 corpus, and SearXNG / Brave against local JSON servers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from gptoss_agent.tools.browser import (
    BraveSearchBackend,
    LocalCorpusBackend,
    SearchBackend,
    SearxngBackend,
)
from gptoss_agent.tools.browser.errors import PageLoadError, SearchBackendError
from tests.tools.browser.site import PDF_BYTES, JsonApiServer


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "keepers.md").write_text(
        "# Lighthouse keepers\n\nKeepers trimmed the wick of the lamp every night.\n"
    )
    (tmp_path / "tides.txt").write_text("Tide tables\nSpring tides follow the new moon.\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "canon.html").write_text(
        "<html><head><title>Canonical</title>"
        "<link rel='canonical' href='https://example.org/canon'></head>"
        "<body><p>Fresnel lenses focus the beam.</p></body></html>"
    )
    (tmp_path / "report.pdf").write_bytes(PDF_BYTES)
    (tmp_path / "ignored.bin").write_bytes(b"\x00lamp")
    return tmp_path


async def test_local_corpus_ranks_and_serves_documents(corpus: Path) -> None:
    backend = LocalCorpusBackend(corpus)
    assert isinstance(backend, SearchBackend)
    hits = await backend.search("keepers lamp", 5)
    assert hits[0].title == "Lighthouse keepers" and hits[0].url == "corpus://keepers.md"
    assert "wick" in hits[0].snippet
    assert (await backend.search("Fresnel", 5))[0].url == "https://example.org/canon"
    assert (await backend.search("lamp burned hours", 5))[0].url == "corpus://report.pdf"
    # Any-term fallback when no document has every term.
    assert [h.url for h in await backend.search("tides zeppelin", 5)] == ["corpus://tides.txt"]
    assert await backend.search("zeppelin", 5) == []
    assert await backend.search("   ", 5) == []
    assert backend.refresh() == 4

    page = await backend.load("corpus://tides.txt")
    assert page.lines[0] == "Tide tables" and page.kind == "corpus"
    for bad in ("corpus://../etc/passwd", "corpus://nope.md", "corpus://ignored.bin"):
        with pytest.raises(PageLoadError):
            await backend.load(bad)
    await backend.aclose()


async def test_local_corpus_reindexes_when_files_change(corpus: Path) -> None:
    backend = LocalCorpusBackend(corpus, index_path=corpus / ".index.sqlite")
    assert await backend.search("albatross", 3) == []
    (corpus / "bird.md").write_text("# Birds\n\nAn albatross circled the lantern.\n")
    assert [h.url for h in await backend.search("albatross", 3)] == ["corpus://bird.md"]
    await backend.aclose()


async def test_local_corpus_quotes_fts_syntax(corpus: Path) -> None:
    backend = LocalCorpusBackend(corpus)
    hits = await backend.search('keepers" OR NEAR(lamp) *', 3)
    assert hits and hits[0].url == "corpus://keepers.md"
    await backend.aclose()


async def test_missing_corpus_folder_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(SearchBackendError, match="does not exist"):
        await LocalCorpusBackend(tmp_path / "absent").search("x", 3)


async def test_searxng_json_api() -> None:
    def respond(path: str, headers: dict[str, str]) -> tuple[int, object]:
        query = parse_qs(urlsplit(path).query)
        assert query["format"] == ["json"]
        return 200, {
            "query": query["q"][0],
            "results": [
                {"url": "https://a.example/", "title": "A", "content": "about " + query["q"][0]},
                {"url": "https://b.example/", "title": "B", "content": ""},
                {"title": "no url"},
                {"url": "https://c.example/", "title": "C", "content": "c"},
            ],
        }

    server = JsonApiServer(respond)
    try:
        backend = SearxngBackend(server.base_url, language="en")
        hits = await backend.search("lighthouse lamps", 2)
        assert [(h.title, h.url, h.snippet) for h in hits] == [
            ("A", "https://a.example/", "about lighthouse lamps"),
            ("B", "https://b.example/", ""),
        ]
        path, _ = server.requests[0]
        assert path.startswith("/search?") and "language=en" in path
    finally:
        server.shutdown()


async def test_searxng_errors_are_readable() -> None:
    server = JsonApiServer(lambda path, headers: (403, b"Forbidden"))
    try:
        with pytest.raises(SearchBackendError, match="must list json"):
            await SearxngBackend(server.base_url).search("x", 3)
    finally:
        server.shutdown()
    garbage = JsonApiServer(lambda path, headers: (200, b"<html>not json</html>"))
    try:
        with pytest.raises(SearchBackendError, match="not JSON"):
            await SearxngBackend(garbage.base_url).search("x", 3)
    finally:
        garbage.shutdown()
    with pytest.raises(SearchBackendError, match="could not be reached"):
        await SearxngBackend("http://127.0.0.1:9", timeout_s=2).search("x", 3)


async def test_brave_api_sends_key_and_reads_web_results() -> None:
    def respond(path: str, headers: dict[str, str]) -> tuple[int, object]:
        if headers.get("x-subscription-token") != "k-123":
            return 401, {"error": "bad key"}
        query = parse_qs(urlsplit(path).query)
        assert query["count"] == ["3"]
        return 200, {
            "type": "search",
            "web": {
                "results": [
                    {
                        "title": "The <strong>lamp</strong> &amp; lens",
                        "url": "https://l.example/",
                        "description": "All about <strong>lamps</strong>.",
                    },
                ]
            },
        }

    server = JsonApiServer(respond)
    try:
        endpoint = f"{server.base_url}/res/v1/web/search"
        hits = await BraveSearchBackend("k-123", endpoint=endpoint).search("lamp", 3)
        assert [(h.title, h.url, h.snippet) for h in hits] == [
            ("The lamp & lens", "https://l.example/", "All about lamps."),
        ]
        with pytest.raises(SearchBackendError, match="rejected the API key"):
            await BraveSearchBackend("wrong", endpoint=endpoint).search("lamp", 3)
    finally:
        server.shutdown()


async def test_brave_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRAVE_SEARCH_API_KEY", raising=False)
    with pytest.raises(SearchBackendError, match="no Brave Search API key"):
        await BraveSearchBackend().search("x", 3)


async def test_brave_rate_limit_is_explained() -> None:
    server = JsonApiServer(lambda path, headers: (429, {"error": "slow down"}))
    try:
        with pytest.raises(SearchBackendError, match="rate limit"):
            await BraveSearchBackend("k", endpoint=server.base_url).search("x", 3)
    finally:
        server.shutdown()
