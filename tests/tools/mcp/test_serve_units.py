"""The parts of ``mcp serve`` that need neither Docker nor Chromium: settings, the key
check, option checks, and the session router driven in process by the SDK's client."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from gptoss_agent.tools.browser import LocalCorpusBackend
from gptoss_agent.tools.errors import ToolConfigError
from gptoss_agent.tools.loopback import is_loopback
from gptoss_agent.tools.mcp.serve_app import STDIO_SESSION, SessionRouter, build_server
from gptoss_agent.tools.mcp.serve_browser import check_allowlist, search_backend
from gptoss_agent.tools.mcp.serve_http import BearerKey, HttpSettings


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("10.0.0.5", False), ("example.com", False),
])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_an_endpoint_off_loopback_needs_a_key() -> None:
    with pytest.raises(ToolConfigError, match="needs an API key"):
        HttpSettings(host="0.0.0.0")
    assert HttpSettings(host="0.0.0.0", api_key="k").api_key == "k"
    assert HttpSettings().api_key is None  # loopback may go without


@pytest.mark.parametrize("settings", [
    {"port": 70000}, {"path": "mcp"}, {"max_sessions": 0}, {"idle_timeout_s": 0},
    {"api_key": "  "},
])
def test_bad_http_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ToolConfigError):
        HttpSettings(**settings)


def test_http_url() -> None:
    assert HttpSettings(port=0).url(4321) == "http://127.0.0.1:4321/mcp"
    assert HttpSettings(host="::1", port=9).url() == "http://[::1]:9/mcp"


async def _status(app: BearerKey, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "http", "headers": headers}, receive, send)
    return int(sent[0]["status"])


async def test_the_bearer_key_is_checked_on_every_request() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    app = BearerKey(inner, "s3cret")
    assert await _status(app, []) == 401
    assert await _status(app, [(b"authorization", b"Bearer wrong")]) == 401
    assert await _status(app, [(b"authorization", b"s3cret")]) == 401
    assert await _status(app, [(b"authorization", b"Bearer s3cret")]) == 200


def test_allow_entries_are_hosts_or_networks() -> None:
    entries = ["intranet.example", "*.corp.example", "10.1.0.0/16", "127.0.0.1", "::1",
               "10.0.0.1:8080", "localhost:3000", "[::1]:8080"]
    assert check_allowlist(entries) == tuple(entries)
    for wrong in ("http://intranet.example", "10.0.0.1:99999", "host/path", ""):
        with pytest.raises(ToolConfigError, match="--allow"):
            check_allowlist([wrong])


def test_search_backend_options(tmp_path: Path) -> None:
    assert search_backend(None) is None
    assert isinstance(search_backend("local", corpus=tmp_path), LocalCorpusBackend)
    problems = [
        ({"kind": "local"}, "needs --corpus"),
        ({"kind": "local", "corpus": tmp_path / "missing"}, "not a folder"),
        ({"kind": "brave", "corpus": tmp_path}, "--corpus goes with --search local"),
        ({"kind": "searxng"}, "needs --url"),
        ({"kind": "searxng", "url": "file:///etc"}, "needs --url"),
        ({"kind": None, "url": "http://x"}, "--url goes with"),
        ({"kind": "bing"}, "must be one of"),
    ]
    for options, message in problems:
        kind = options.pop("kind")
        with pytest.raises(ToolConfigError, match=message):
            search_backend(kind, **options)


class Recorder:
    """A toolset that records its calls and whether two of a session ever overlapped."""

    name = "recorder"
    instructions = "records calls"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.running = 0
        self.overlapped = False
        self.closed: list[str] = []
        self.shut = False

    def tools(self) -> list[types.Tool]:
        return [types.Tool(name="note", input_schema={"type": "object"})]

    async def start(self) -> None:
        return None

    async def call(self, session_id: str, name: str,
                   arguments: Mapping[str, Any]) -> types.CallToolResult:
        self.running += 1
        self.overlapped |= self.running > 1
        for _ in range(5):  # let a concurrent call of the session try to start
            await anyio.lowlevel.checkpoint()
        self.running -= 1
        self.calls.append((session_id, name, dict(arguments)))
        return types.CallToolResult(content=[types.TextContent(type="text", text=session_id)])

    async def close_session(self, session_id: str) -> None:
        self.closed.append(session_id)

    async def aclose(self) -> None:
        self.shut = True


async def test_the_router_runs_a_sessions_calls_one_at_a_time_and_closes_it() -> None:
    toolset = Recorder()
    router = SessionRouter(toolset, http=False)
    async with Client(build_server(router)) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["note"]
        async with anyio.create_task_group() as tasks:
            for n in range(3):
                tasks.start_soon(client.call_tool, "note", {"n": n})
        result = await client.call_tool("note", {})
        assert result.content[0].text == STDIO_SESSION  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="Unknown tool: nope"):
            await client.call_tool("nope", {})
    assert len(toolset.calls) == 4 and not toolset.overlapped
    assert router.open_sessions == (STDIO_SESSION,)
    await router.aclose()
    assert toolset.closed == [STDIO_SESSION] and toolset.shut
    assert router.open_sessions == ()


def test_the_python_tool_states_its_limits_and_network() -> None:
    from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
    from gptoss_agent.tools.mcp.serve_python import PythonToolset

    limits = SandboxLimits(timeout_s=7, memory_mb=512)
    for network, word in ((False, "disabled"), (True, "enabled")):
        toolset = PythonToolset(SandboxConfig(limits=limits, network=network))
        try:
            (tool,) = toolset.tools()
            assert tool.name == "python" and tool.input_schema["required"] == ["code"]
            description = tool.description or ""
            assert "7 seconds" in description and "512 MB" in description
            assert f"internet access is {word}" in description
            assert tool.annotations is not None and tool.annotations.open_world_hint is network
        finally:
            anyio.run(toolset.aclose)
        assert not toolset.data_root.exists()  # the temporary drives are gone


def test_the_browser_tools_are_the_trained_functions() -> None:
    from gptoss_agent.tools.browser import BROWSER_SPEC
    from gptoss_agent.tools.mcp.serve_browser import BrowserToolset

    tools = BrowserToolset().tools()
    assert [(t.name, t.description) for t in tools] == [
        (f.name, f.description) for f in BROWSER_SPEC.functions]
    assert tools[0].input_schema["required"] == ["query"]
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
