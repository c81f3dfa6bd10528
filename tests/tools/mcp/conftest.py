"""Fixtures for the MCP client tests: the fault server, the npm servers, child processes."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.tools.base import ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.mcp import MCPServer, MCPServerConfig
from tests.support import require_or_skip

FAULT_SERVER = Path(__file__).with_name("fault_server.py")
NPM_BIN = Path(os.environ.get("GPTOSS_AGENT_NPM_BIN",
                              "/var/cache/gptoss-agent/npm/node_modules/.bin"))


def children() -> set[int]:
    """The pids of this process's child processes (zombies included)."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is still in the process table (a zombie counts)."""
    return Path(f"/proc/{pid}").exists()


def git_repo(path: Path, files: dict[str, str]) -> Path:
    """A new git repository at ``path`` holding untracked ``files``."""
    require_or_skip(shutil.which("git") is not None, "git is not installed")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def need_python_server(module: str) -> None:
    require_or_skip(importlib.util.find_spec(module) is not None,
                    f"{module} is not installed (pip install {module.replace('_', '-')})")


def npm_server(name: str) -> Path:
    """The npm server's executable; skips (fails in CI) when it or Node is missing."""
    path = NPM_BIN / name
    require_or_skip(path.exists() and shutil.which("node") is not None,
                    f"{path} or node is missing (scripts/setup-tests.sh installs them)")
    return path


async def call(server: MCPServer, name: str, arguments: str = "{}",
               timeout_s: float | None = None) -> ToolResult:
    """Call ``server``'s tool ``name`` the way the registry does."""
    return await server.call(ToolCall("call_1", server.name, name, arguments),
                             ToolContext("session", timeout_s=timeout_s))


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., MCPServer]]:
    """Make MCP servers that are closed when the test ends (their processes checked gone)."""
    made: list[MCPServer] = []
    before = children()

    def make(name: str = "faults", **fields: Any) -> MCPServer:
        server = MCPServer(MCPServerConfig(name, **fields))
        made.append(server)
        return server

    yield make
    for server in made:
        await server.aclose()
    assert [pid for pid in children() - before if alive(pid)] == []


@pytest.fixture
def fault_args(tmp_path: Path) -> dict[str, Any]:
    """The stdio fault server's config fields; its restart fails once ``marker`` exists."""
    marker = tmp_path / "refuse-start"
    return {"command": sys.executable,
            "args": [str(FAULT_SERVER), "--refuse-start-if", str(marker)]}
