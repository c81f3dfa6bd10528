"""``gptoss-agent mcp serve python|browser`` driven by the MCP SDK's own client.

Every server here is a real process (``python -m gptoss_agent mcp serve ...``) reached over
stdio or Streamable HTTP; the sandbox runs in Docker and the browser is Chromium. Without
them the tests skip locally and fail in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from gptoss_agent.tools.browser import BROWSER_SPEC
from gptoss_agent.tools.browser.config import find_chromium
from tests.support import require_or_skip

ROOT = Path(__file__).resolve().parents[3]
SERVE = ["-m", "gptoss_agent", "mcp", "serve"]
KEY_ENV = "GPTOSS_TEST_MCP_KEY"
KEY = "test-key-7d1f"


# -- starting our servers ---------------------------------------------------------------

def stdio(*args: str) -> StdioServerParameters:
    """Our server as the SDK's stdio client starts it (the whole environment passed on)."""
    return StdioServerParameters(command=sys.executable, args=[*SERVE, *args],
                                 env=dict(os.environ), cwd=str(ROOT))


@dataclass
class HttpServer:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> int:
        """SIGTERM, as a service manager would; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@contextlib.contextmanager
def http_server(*args: str) -> Iterator[HttpServer]:
    """Start ``mcp serve ... --transport http --port 0`` and read the URL it listens on."""
    env = dict(os.environ, **{KEY_ENV: KEY})
    process = subprocess.Popen(
        [sys.executable, *SERVE, *args, "--transport", "http", "--port", "0",
         "--api-key-env", KEY_ENV],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()  # blocks until the server says it listens (or dies)
        if not line.startswith("listening on "):
            process.kill()
            pytest.fail(f"the server did not start: {line!r} {process.stderr.read()}")
        yield HttpServer(process, line.split()[-1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@contextlib.asynccontextmanager
async def http_client(url: str, key: str = KEY) -> AsyncIterator[Client]:
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as web,
                Client(streamable_http_client(url, http_client=web)) as client):
        yield client


def text(result: object) -> str:
    return "".join(getattr(part, "text", "") for part in getattr(result, "content", []))


# -- the sandbox's containers -----------------------------------------------------------

def containers_using(folder: Path) -> list[str]:
    """Ids of the sandbox containers whose drive lies under ``folder``."""
    import docker

    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": "gptoss-agent.session"})
        return [c["Id"] for c in found
                if any(str(m.get("Source", "")).startswith(str(folder))
                       for m in c.get("Mounts", []))]
    finally:
        client.close()


def wait_removed(container_id: str) -> None:
    """Block until Docker has removed the container (the engine's own wait, no polling)."""
    import docker

    client = docker.from_env()
    try:
        client.api.wait(container_id, condition="removed", timeout=60)
    except docker.errors.NotFound:
        pass  # already gone
    finally:
        client.close()


# -- the python server ------------------------------------------------------------------

@pytest.mark.usefixtures("needs_docker")
async def test_python_keeps_state_across_calls_and_closes_the_sandbox_at_the_end(
    tmp_path: Path,
) -> None:
    async with Client(stdio("python", "--data-dir", str(tmp_path))) as client:
        tools = (await client.list_tools()).tools
        assert [tool.name for tool in tools] == ["python"]
        assert tools[0].input_schema["required"] == ["code"]
        assert "disabled" in (tools[0].description or "")  # no network by default
        first = await client.call_tool("python", {"code": "x = 41"})
        assert not first.is_error
        second = await client.call_tool("python", {"code": "x + 1"})
        assert (second.is_error, text(second)) == (False, "42")
        network = await client.call_tool(
            "python", {"code": "import os; open('/mnt/data/out.txt', 'w').write('kept'); "
                       "sorted(os.listdir('/sys/class/net'))"})
        assert text(network) == "['lo']"
        assert len(containers_using(tmp_path)) == 1
    # The client closed stdin: the server removed the container before it exited,
    # and --data-dir kept the session's drive.
    assert containers_using(tmp_path) == []
    assert (tmp_path / "mcp-stdio" / "out.txt").read_text() == "kept"


@pytest.mark.usefixtures("needs_docker")
async def test_python_timeout_is_enforced_and_the_next_call_works(tmp_path: Path) -> None:
    async with Client(stdio("python", "--timeout-s", "2", "--data-dir", str(tmp_path))) as client:
        await client.call_tool("python", {"code": "x = 41"})
        endless = await client.call_tool("python", {"code": "while True:\n    pass"})
        assert endless.is_error
        assert "timed out after 2 seconds" in text(endless)
        after = await client.call_tool("python", {"code": "x + 1"})
        assert (after.is_error, text(after)) == (False, "42")
        wrong = await client.call_tool("python", {"source": "1"})
        assert wrong.is_error and '{"code"' in text(wrong)


@pytest.mark.usefixtures("needs_docker")
async def test_python_over_http_needs_the_key_and_keeps_one_sandbox_per_session(
    tmp_path: Path,
) -> None:
    with http_server("python", "--data-dir", str(tmp_path)) as server:
        async with httpx2.AsyncClient() as web:
            ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            assert (await web.post(server.url, json=ping)).status_code == 401
            wrong = {"Authorization": "Bearer not-the-key"}
            assert (await web.post(server.url, json=ping, headers=wrong)).status_code == 401
        async with http_client(server.url) as first, http_client(server.url) as second:
            assert first.protocol_version == "2025-11-25"  # a session-keeping handshake
            await first.call_tool("python", {"code": "x = 1"})
            await second.call_tool("python", {"code": "x = 2"})
            assert text(await first.call_tool("python", {"code": "x"})) == "1"
            assert text(await second.call_tool("python", {"code": "x"})) == "2"
            before = set(containers_using(tmp_path))
            assert len(before) == 2
            async with http_client(server.url) as third:
                await third.call_tool("python", {"code": "x = 3"})
                (third_id,) = set(containers_using(tmp_path)) - before
            # Leaving sent DELETE: that session's container goes, the others stay.
            await asyncio.to_thread(wait_removed, third_id)
            assert len(containers_using(tmp_path)) == 2
            assert text(await second.call_tool("python", {"code": "x"})) == "2"
            assert await asyncio.to_thread(server.stop) == 0
        assert containers_using(tmp_path) == []


@pytest.mark.usefixtures("needs_docker")
async def test_python_over_http_refuses_a_call_outside_any_session(tmp_path: Path) -> None:
    with http_server("python", "--data-dir", str(tmp_path)) as server:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as web:
            transport = streamable_http_client(server.url, http_client=web)
            async with Client(transport, mode="2026-07-28") as sessionless:
                with pytest.raises(MCPError, match="keeps state per MCP session"):
                    await sessionless.call_tool("python", {"code": "1"})
        assert containers_using(tmp_path) == []
        assert server.stop() == 0


@pytest.mark.usefixtures("needs_docker")
async def test_python_over_http_refuses_sessions_beyond_max_sessions(tmp_path: Path) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json, text/event-stream"}
    with http_server("python", "--max-sessions", "1", "--data-dir", str(tmp_path)) as server:
        async with httpx2.AsyncClient(headers=headers) as web:
            first = await web.post(server.url, json=initialize)
            assert first.status_code == 200 and first.headers["mcp-session-id"]
            second = await web.post(server.url, json=initialize)
            assert second.status_code == 503
        assert await asyncio.to_thread(server.stop) == 0


# -- the browser server -----------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    problem = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed"
    path = find_chromium()
    if problem is None and (path is None or not os.access(path, os.X_OK)):
        problem = "no Chromium executable found"
    require_or_skip(problem is None, f"browser tests cannot run: {problem}")
    assert path is not None
    return path


class _Page(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = b"<html><head><title>Intranet</title></head><body>payroll figures</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def private_site() -> Iterator[tuple[str, type[_Page]]]:
    """A web server on 127.0.0.1 (a private address), counting the requests it gets."""
    handler = type("Page", (_Page,), {"hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "lighthouse.md").write_text(
        "# Lighthouse keeping\n\nKeepers trimmed the wick of the lamp every night.\n")
    return folder


async def test_browser_refuses_a_private_address(
    chromium: str, private_site: tuple[str, type[_Page]]
) -> None:
    url, page = private_site
    async with Client(stdio("browser", "--chromium", chromium)) as client:
        refused = await client.call_tool("open", {"id": url})
    assert refused.is_error
    assert "loopback address and not allowlisted" in text(refused)
    assert page.hits == 0  # not a single request reached it


async def test_browser_opens_a_private_host_once_allowed(
    chromium: str, private_site: tuple[str, type[_Page]]
) -> None:
    url, page = private_site
    async with Client(stdio("browser", "--chromium", chromium, "--allow", "127.0.0.1")) as client:
        opened = await client.call_tool("open", {"id": url})
    assert not opened.is_error
    assert "payroll figures" in text(opened) and page.hits >= 1


async def test_browser_searches_a_local_corpus_and_finds_on_the_session_page(
    chromium: str, corpus: Path
) -> None:
    args = ("browser", "--chromium", chromium, "--search", "local", "--corpus", str(corpus))
    async with Client(stdio(*args)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {name: tool.input_schema for name, tool in tools.items()} == {
            f.name: dict(f.parameters or {}) for f in BROWSER_SPEC.functions}
        found = await client.call_tool("search", {"query": "lighthouse wick"})
        assert not found.is_error and "Lighthouse keeping" in text(found)
        match = await client.call_tool("find", {"pattern": "wick"})
        assert not match.is_error and "match at" in text(match)


async def test_browser_sessions_have_their_own_page_stacks_and_chromium_stops(
    chromium: str, corpus: Path
) -> None:
    args = ("browser", "--chromium", chromium, "--search", "local", "--corpus", str(corpus))
    with http_server(*args) as server:
        browsers = chromium_processes_of(server.process.pid)
        assert browsers  # launched at start
        async with http_client(server.url) as first, http_client(server.url) as second:
            await first.call_tool("search", {"query": "lighthouse"})
            assert not (await first.call_tool("find", {"pattern": "wick"})).is_error
            other = await second.call_tool("find", {"pattern": "wick"})
            assert other.is_error  # the second session has no page yet
            assert await asyncio.to_thread(server.stop) == 0
    assert all(not alive(pid) for pid in browsers)


def chromium_processes_of(root: int) -> list[int]:
    """The Chromium processes descending from ``root`` (read from /proc)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                names[int(entry.name)] = stat[stat.find("(") + 1:stat.rfind(")")]
                parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += [child for child in children if "chrom" in names[child]]
        frontier += children
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped counts as stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
