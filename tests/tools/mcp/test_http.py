"""The client over Streamable HTTP, against the fault server run as an HTTP service."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from gptoss_agent.tools.mcp import MCPServer, MCPServerError
from tests.tools.mcp.conftest import FAULT_SERVER, call

Make = Callable[..., MCPServer]


@pytest.fixture
def http_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The fault server on a free port; its first stdout line is the port, once it listens."""
    process = subprocess.Popen([sys.executable, str(FAULT_SERVER), "--http"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.kill()
        process.wait()


async def test_streamable_http_sends_the_headers(
        servers: Make, http_server: tuple[str, subprocess.Popen[str]]) -> None:
    url, _ = http_server
    server = servers("remote", url=url, headers={"X-Token": "s3cret"}, prefixed=False)
    await server.start()
    assert server.spec.name == "remote" and server.prefixed is False
    whoami = await call(server, "whoami")
    assert (whoami.text, whoami.is_error) == ("s3cret", False)
    bad = await call(server, "checked", '{"count": 1}')
    assert bad.invalid_call and "there is no tool" not in bad.text
    wrong = await call(server, "nope")
    assert "there is no tool remote.nope" in wrong.text  # its own namespace


async def test_a_changed_tool_list_over_http(
        servers: Make, http_server: tuple[str, subprocess.Popen[str]]) -> None:
    server = servers("remote", url=http_server[0])
    await server.start()
    revision = server.tools_revision
    assert (await call(server, "add_tool", '{"name": "twice"}')).text == "added twice"
    assert await server.wait_for_tools(revision) > revision
    assert (await call(server, "twice", '{"x": 4}')).text == "8"


async def test_an_endpoint_that_goes_away_is_reported_then_unavailable(
        servers: Make, http_server: tuple[str, subprocess.Popen[str]]) -> None:
    url, process = http_server
    server = servers("remote", url=url)
    assert (await call(server, "echo", '{"text": "up"}')).text == "up"
    process.kill()
    process.wait()
    gone = await call(server, "echo", '{"text": "down?"}')
    assert gone.is_error and gone.metadata["kind"] == "server_exited"
    with pytest.raises(MCPServerError, match="could not be reached"):
        await call(server, "echo", '{"text": "down?"}')  # the one reconnect failed too
