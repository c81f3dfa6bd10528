"""A scripted-model run that calls tools of two real MCP servers: one prefixed inside
``functions``, one as its own namespace. The developer message is kept as a golden file
(set ``GOLDEN_UPDATE=1`` to rewrite it after an intended change, then read the diff)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.tools.mcp import MCPServer
from tests.tools.mcp.conftest import git_repo, need_python_server

GOLDEN = Path(__file__).parent / "golden" / "two_servers_developer.txt"


def assert_matches_golden(text: str) -> None:
    if os.environ.get("GOLDEN_UPDATE") or not GOLDEN.exists():
        if os.environ.get("CI") and not GOLDEN.exists():
            pytest.fail(f"golden file {GOLDEN} is missing")
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


async def test_a_run_calls_a_prefixed_and_a_namespaced_server(
        servers: Callable[..., MCPServer], codec: HarmonyCodec, tmp_path: Path) -> None:
    need_python_server("mcp_server_time")
    need_python_server("mcp_server_git")
    repo = git_repo(tmp_path / "repo", {"todo.txt": "ship it\n"})
    time = servers("time", command=sys.executable,
                   args=["-m", "mcp_server_time", "--local-timezone", "Etc/UTC"])
    git = servers("git", command=sys.executable,
                  args=["-m", "mcp_server_git", "--repository", str(repo)], prefixed=False)
    await time.start()
    await git.start()
    script = [
        "<|channel|>commentary to=functions.time_get_current_time <|constrain|>json"
        '<|message|>{"timezone": "Asia/Tokyo"}<|call|>',
        "<|channel|>commentary to=git.git_status <|constrain|>json<|message|>"
        + json.dumps({"repo_path": str(repo)}) + "<|call|>",
        "<|channel|>final<|message|>It is evening in Tokyo; todo.txt is untracked.<|return|>",
    ]
    agent = Agent(ScriptedBackend(script, codec=codec), [time, git], codec=codec,
                  conversation_start_date="2026-11-28")
    [_, (role, developer)] = agent.header_texts()
    assert role == "developer"
    assert "namespace functions {" in developer and "type time_get_current_time" in developer
    assert "namespace git {" in developer and "type git_status" in developer
    assert_matches_golden(developer)

    result = await agent.run("What time is it in Tokyo, and what is untracked?")
    assert result.final_text == "It is evening in Tokyo; todo.txt is untracked."
    assert (result.tool_calls, result.tool_errors) == (2, 0)
    answers = [m for m in result.new_messages if m.role == "tool"]
    assert [m.author for m in answers] == ["functions.time_get_current_time", "git.git_status"]
    assert json.loads(answers[0].text)["timezone"] == "Asia/Tokyo"
    assert "todo.txt" in answers[1].text and not answers[1].is_error
