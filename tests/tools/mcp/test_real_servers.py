"""The client against real MCP servers from PyPI and npm, started as child processes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from gptoss_agent.tools.mcp import MCPServer
from gptoss_agent.tools.rerun import may_rerun
from tests.tools.mcp.conftest import (
    alive,
    call,
    children,
    git_repo,
    need_python_server,
    npm_server,
)

Make = Callable[..., MCPServer]


async def test_time_server_tells_the_time_in_a_timezone(servers: Make) -> None:
    need_python_server("mcp_server_time")
    before = children()
    server = servers("time", command=sys.executable,
                     args=["-m", "mcp_server_time", "--local-timezone", "Etc/UTC"])
    await server.start()
    [pid] = children() - before
    tool = server.spec.function("get_current_time")
    assert tool is not None and tool.parameters is not None
    assert tool.parameters["required"] == ["timezone"]
    result = await call(server, "get_current_time", '{"timezone": "Asia/Tokyo"}')
    assert not result.is_error
    answer = json.loads(result.text)  # structured content, as compact JSON, shown once
    assert answer["timezone"] == "Asia/Tokyo" and answer["datetime"].endswith("+09:00")
    assert "\n" not in result.text
    wrong = await call(server, "get_current_time", '{"timezone": "Mars/Olympus_Mons"}')
    assert wrong.is_error and wrong.metadata["kind"] == "tool_error"
    assert "Mars/Olympus_Mons" in wrong.text
    await server.aclose()
    assert not alive(pid)


async def test_git_server_shows_an_untracked_file(servers: Make, tmp_path: Path) -> None:
    need_python_server("mcp_server_git")
    repo = git_repo(tmp_path / "repo", {"notes.txt": "remember the milk\n"})
    server = servers("git", command=sys.executable,
                     args=["-m", "mcp_server_git", "--repository", str(repo)])
    arguments = json.dumps({"repo_path": str(repo)})
    status = await call(server, "git_status", arguments)
    assert not status.is_error
    assert "Untracked files" in status.text and "notes.txt" in status.text
    assert server.annotations("git_status")["readOnlyHint"] is True
    assert server.annotations("git_commit")["readOnlyHint"] is False
    # A resume may run a lost git_status again (read-only), never a lost git_commit.
    assert may_rerun(server, "git_status") and not may_rerun(server, "git_commit")
    missing = await call(server, "git_status", "{}")
    assert missing.invalid_call and "'repo_path' is a required property" in missing.text


async def test_filesystem_server_lists_and_reads_a_file(servers: Make, tmp_path: Path) -> None:
    executable = npm_server("mcp-server-filesystem")
    (tmp_path / "notes.txt").write_text("first line\nsecond line\n")
    (tmp_path / "sub").mkdir()
    server = servers("files", command=str(executable), args=[str(tmp_path)])
    listing = await call(server, "list_directory", json.dumps({"path": str(tmp_path)}))
    assert not listing.is_error
    assert "[FILE] notes.txt" in listing.text and "[DIR] sub" in listing.text
    read = await call(server, "read_text_file", json.dumps({"path": str(tmp_path / "notes.txt")}))
    assert read.text.startswith("first line\nsecond line")
    outside = await call(server, "read_text_file", json.dumps({"path": "/etc/hostname"}))
    assert outside.is_error and "denied" in outside.text.lower()


async def test_everything_server_names_media_and_structured_content(servers: Make) -> None:
    executable = npm_server("mcp-server-everything")
    server = servers("everything", command=str(executable), args=["stdio"])
    await server.start()
    assert server.renamed["get_sum"] == "get-sum"  # MCP names that are not identifiers
    assert server.spec.function("get_tiny_image") is not None
    assert server.collisions == ()
    total = await call(server, "get_sum", '{"a": 2, "b": 40}')
    assert "42" in total.text and total.metadata["mcp_tool"] == "get-sum"
    image = await call(server, "get_tiny_image")
    assert "[image: image/png" in image.text and "data is not shown" in image.text
    links = await call(server, "get_resource_links", '{"count": 2}')
    assert links.text.count("[resource link ") == 2
    weather = await call(server, "get_structured_content", '{"location": "Chicago"}')
    assert not weather.is_error
    assert weather.text.count('"temperature"') == 1  # the text that repeats it is not doubled
