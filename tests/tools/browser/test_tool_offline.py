"""The tool's interface without Chromium: spec, arguments, search pages, corpus documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gptoss_agent.tools.base import (
    FinalReviewer,
    SessionScopedTool,
    StatefulTool,
    Tool,
    ToolContext,
)
from gptoss_agent.tools.browser import BrowserTool, LocalCorpusBackend, SearchHit
from gptoss_agent.tools.browser.errors import SearchBackendError
from tests.tools.browser.calls import call, call_raw


class ListBackend:
    """A search backend answering from a list; can be told to fail."""

    def __init__(self, hits: list[SearchHit], fail: Exception | None = None) -> None:
        self.hits, self.fail, self.queries = hits, fail, []  # type: ignore[var-annotated]

    @property
    def name(self) -> str:
        return "list"

    async def search(self, query: str, topn: int) -> list[SearchHit]:
        self.queries.append((query, topn))
        if self.fail is not None:
            raise self.fail
        return self.hits[:topn]

    async def aclose(self) -> None:
        pass


@pytest.fixture
def ctx() -> ToolContext:
    return ToolContext(session_id="offline")


@pytest.fixture
def corpus_tool(tmp_path: Path) -> BrowserTool:
    (tmp_path / "keepers.md").write_text(
        "# Lighthouse keepers\n\n"
        + "\n".join(f"Night {i}: the wick was trimmed." for i in range(80))
        + "\nThe lens was polished with 【0†L1】 care.\n"
    )
    return BrowserTool(LocalCorpusBackend(tmp_path))


def test_spec_is_the_trained_interface() -> None:
    tool = BrowserTool()
    assert isinstance(tool, Tool) and isinstance(tool, StatefulTool)
    assert isinstance(tool, SessionScopedTool) and isinstance(tool, FinalReviewer)
    assert tool.review_key == "citations"
    spec = tool.spec
    assert spec.name == "browser" and spec.builtin
    assert [f.name for f in spec.functions] == ["search", "open", "find"]
    assert spec.description.startswith("Tool for browsing.\nThe `cursor` appears in brackets")
    assert "`【{cursor}†L{line_start}(-L{line_end})?】`" in spec.description
    assert spec.description.endswith("sources=web (default: web)")
    open_fn = spec.function("open")
    assert open_fn is not None and open_fn.parameters is not None
    props = open_fn.parameters["properties"]
    assert props["id"]["default"] == -1 and props["view_source"]["default"] is False
    assert open_fn.description.startswith("Opens the link `id` from the page indicated by")
    search_fn = spec.function("search")
    assert search_fn is not None and search_fn.parameters is not None
    assert search_fn.parameters["required"] == ["query"]
    assert search_fn.parameters["properties"]["topn"]["default"] == 10


async def test_search_results_are_a_page_with_numbered_links(ctx: ToolContext) -> None:
    backend = ListBackend(
        [
            SearchHit(
                "First 【1†L1】 result", "https://one.example/a", "Snippet about <|start|> one"
            ),
            SearchHit("Second", "https://two.example/b", ""),
        ]
    )
    tool = BrowserTool(backend)
    result = await call(tool, ctx, "search", query="lamps", topn="5")
    assert not result.is_error, result.text
    assert backend.queries == [("lamps", 5)]
    assert result.text == (
        "[0] Search results for `lamps` (web-search://?q=lamps&n=5)\n"
        "**viewing lines [0 - 3] of 3**\n\n"
        "L0: * 【0†First 〖1+L1〗 result†one.example】\n"
        "L1: Snippet about <|start|> one\n"
        "L2: \n"
        "L3: * 【1†Second†two.example】"
    )
    assert result.metadata["cursor"] == 0 and result.metadata["results"] == 2
    empty = await call(BrowserTool(ListBackend([])), ctx, "search", query="nothing")
    assert "No results found for `nothing`." in empty.text


async def test_corpus_documents_open_find_and_scroll_without_a_browser(
    corpus_tool: BrowserTool, ctx: ToolContext
) -> None:
    found = await call(corpus_tool, ctx, "search", query="lens polished")
    assert "【0†Lighthouse keepers†corpus】" in found.text
    opened = await call(corpus_tool, ctx, "open", id=0)
    assert not opened.is_error, opened.text
    assert opened.text.startswith("[1] Lighthouse keepers (corpus://keepers.md)\n")
    # Opened from a search result: the view is centred near the snippet's passage.
    assert "L82: The lens was polished with 〖0†L1〗 care." in opened.text
    assert opened.metadata["lines"][0] > 0
    hit = await call(corpus_tool, ctx, "find", pattern="night 7")
    assert "【0†match at L9】" in hit.text and "【10†match at L81】" in hit.text
    back = await call(corpus_tool, ctx, "open", id=10, num_lines=3)
    assert back.text.startswith("[3] Lighthouse keepers (corpus://keepers.md)")
    assert "L81: Night 79: the wick was trimmed." in back.text
    scrolled = await call(corpus_tool, ctx, "open", cursor=1, loc=0, num_lines=1)
    assert scrolled.text.endswith("L0: # Lighthouse keepers")
    direct = await call(corpus_tool, ctx, "open", id="corpus://keepers.md", num_lines=1)
    assert not direct.is_error and direct.metadata["cursor"] == 5
    review = corpus_tool.review_final(ctx.session_id, "trimmed【5†L0】 polished【1†L82】")
    assert review is not None and review["ok"] is True
    assert [c["status"] for c in review["citations"]] == ["ok", "ok"]
    assert {c["url"] for c in review["citations"]} == {"corpus://keepers.md"}


def test_review_final_says_nothing_without_citations(corpus_tool: BrowserTool) -> None:
    assert corpus_tool.review_final("never-browsed", "A plain answer.") is None
    assert corpus_tool.review_final("never-browsed", "Only a link marker 【3†Title】.") is None
    review = corpus_tool.review_final("never-browsed", "Cited【0†L1】.")
    assert review is not None and review["ok"] is False
    assert review["citations"][0]["status"] == "unknown_cursor"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("search", "not json", "not valid JSON"),
        ("search", "[1, 2]", "must be a JSON object"),
        ("search", "{}", 'needs a non-empty "query"'),
        ("search", '{"query": "x", "topn": "many"}', "`topn` must be a whole number"),
        ("search", '{"query": "x", "topn": "--5"}', "`topn` must be a whole number"),
        ("search", '{"query": "x", "source": "news"}', "Unknown source 'news'"),
        ("find", '{"pattern": ""}', 'needs a non-empty "pattern"'),
        ("open", '{"id": true}', "`id` must be a link number or a URL"),
        ("open", '{"id": "https://x.example", "view_source": "maybe"}', "`view_source` must be"),
        ("close", "{}", "Unknown function browser.close"),
    ],
)
async def test_malformed_calls_are_invalid_with_model_readable_errors(
    ctx: ToolContext, name: str, raw: str, expected: str
) -> None:
    result = await call_raw(BrowserTool(ListBackend([])), ctx, name, raw)
    assert result.is_error and result.invalid_call
    assert expected in result.text
    assert result.metadata["error"] == "BadArgumentsError"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("find", '{"pattern": "x"}', "No page is open"),
        ("open", "{}", "No page is open yet"),
        ("open", '{"cursor": 3}', "No page is open yet"),
    ],
)
async def test_well_formed_calls_that_fail_are_errors_not_invalid(
    ctx: ToolContext, name: str, raw: str, expected: str
) -> None:
    result = await call_raw(BrowserTool(ListBackend([])), ctx, name, raw)
    assert result.is_error and not result.invalid_call
    assert expected in result.text
    assert result.metadata["error"] == "TargetNotFoundError"


async def test_lenient_argument_forms(ctx: ToolContext) -> None:
    backend = ListBackend([SearchHit("A", "https://a.example/", "")])
    tool = BrowserTool(backend)
    for raw in ('```json\n{"query": "q1"}\n```', '{"query": "q2", "topn": 3.0} trailing', '"q3"'):
        assert not (await call_raw(tool, ctx, "search", raw)).is_error, raw
    assert backend.queries == [("q1", 10), ("q2", 3), ("q3", 10)]


async def test_cursor_errors_and_backend_failures(ctx: ToolContext) -> None:
    tool = BrowserTool(ListBackend([SearchHit("A", "https://a.example/", "")]))
    await call(tool, ctx, "search", query="x")
    missing = [
        await call(tool, ctx, "find", pattern="A", cursor=7),
        await call(tool, ctx, "open", id=4),
        await call(tool, ctx, "open", loc=99),
    ]
    assert "There is no cursor 7; valid cursors are 0-0" in missing[0].text
    assert "Link id 4 is not on page [0]" in missing[1].text
    assert "past the end" in missing[2].text
    assert all(r.is_error and not r.invalid_call for r in missing)
    failing = BrowserTool(ListBackend([], fail=SearchBackendError("The engine is down.")))
    result = await call(failing, ctx, "search", query="x")
    assert result.is_error and result.text == "The engine is down."
    assert not result.invalid_call
    crashing = BrowserTool(ListBackend([], fail=RuntimeError("boom")))
    result = await call(crashing, ctx, "search", query="x")
    assert result.is_error and "boom" in result.text and not result.invalid_call
    none = await call(BrowserTool(), ctx, "search", query="x")
    assert none.is_error and "no search backend is configured" in none.text


async def test_snapshot_is_json_and_restores_cursors(ctx: ToolContext) -> None:
    tool = BrowserTool(ListBackend([SearchHit("A", "https://a.example/", "s")]))
    await call(tool, ctx, "search", query="x")
    state = json.loads(json.dumps(tool.snapshot(ctx.session_id)))
    fresh = BrowserTool()
    fresh.restore("again", state)
    result = await call(fresh, ToolContext(session_id="again"), "find", pattern="A", cursor=0)
    assert result.text.startswith("[1] Find results for text: `A` in `Search results for `x``")
    assert tool.snapshot("never-used") == {}
    fresh.restore("blank", {})
    assert fresh.stack("blank") is not None


def test_typed_construction_as_the_task_layer_builds_it(tmp_path: Path) -> None:
    from gptoss_agent.tools.browser import BraveSearchBackend, BrowserConfig, SearxngBackend
    from gptoss_agent.tools.browser.search import BraveSearchBackend as SearchBrave

    assert SearchBrave is BraveSearchBackend
    (tmp_path / "docs").mkdir()
    config = BrowserConfig(
        allowlist=("10.0.0.0/8",), executable_path="/opt/chromium", load_timeout_s=7.0
    )
    tool = BrowserTool(LocalCorpusBackend(tmp_path / "docs"), config)
    assert isinstance(tool.backend, LocalCorpusBackend)
    assert tool.backend.folder == (tmp_path / "docs").resolve()
    assert tool.config.allowlist == ("10.0.0.0/8",)
    assert tool.config.executable_path == "/opt/chromium" and tool.config.load_timeout_s == 7
    assert tool.chromium.executable_path == "/opt/chromium"
    searx = BrowserTool(SearxngBackend("http://s:8888"), BrowserConfig())
    assert isinstance(searx.backend, SearxngBackend)
    assert searx.backend.base_url == "http://s:8888"
    brave = BrowserTool(
        BraveSearchBackend(endpoint="http://b/search", api_key_env="MY_KEY"), BrowserConfig()
    )
    assert isinstance(brave.backend, BraveSearchBackend)
    assert brave.backend.api_key_env == "MY_KEY" and brave.backend.endpoint == "http://b/search"
    assert BrowserTool(None, BrowserConfig()).backend is None
