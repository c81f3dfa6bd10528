"""The client against a server built with the SDK that fails on request (over stdio)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.tools.base import SessionScopedTool, Tool, ToolGroup
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.mcp import MCPServer, MCPServerError
from tests.tools.mcp.conftest import alive, call, children

Make = Callable[..., MCPServer]


async def test_the_server_is_a_prefixed_tool_group(servers: Make,
                                                   fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    await server.start()
    assert isinstance(server, ToolGroup) and isinstance(server, SessionScopedTool)
    assert isinstance(server, Tool) and server.prefixed is True
    spec = server.spec
    assert spec.name == "faults" and spec.description == "A server that fails on request."
    assert {"echo", "crash", "hang", "add_tool"} <= {f.name for f in spec.functions}
    checked = spec.function("checked")
    assert checked is not None and checked.parameters is not None
    assert checked.parameters["properties"]["mode"]["enum"] == ["fast", "slow"]
    pid = spec.function("pid")
    assert pid is not None and pid.parameters is None  # no arguments: nothing to render
    result = await call(server, "echo", '{"text": "hi"}')
    assert (result.text, result.is_error) == ("hi", False)
    assert result.metadata["mcp_tool"] == "echo"


async def test_a_crash_mid_call_is_reported_and_the_restart_works(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    first = int((await call(server, "pid")).text)
    crashed = await call(server, "crash")
    assert crashed.is_error and not crashed.invalid_call
    assert crashed.metadata["kind"] == "server_exited"
    assert "stopped while answering functions.faults_crash" in crashed.text
    assert "crashing on purpose" in crashed.text  # what it wrote to stderr meanwhile
    assert "being restarted" in crashed.text
    second = int((await call(server, "pid")).text)
    assert second != first and not alive(first)
    assert (await call(server, "echo", '{"text": "back"}')).text == "back"


async def test_a_hang_past_the_deadline_times_out_and_the_process_is_replaced(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args, timeout_s=0.5)
    hung = int((await call(server, "pid")).text)
    result = await call(server, "hang")
    assert result.is_error and result.metadata["kind"] == "timeout"
    assert "did not answer within 0.5 seconds" in result.text
    fresh = int((await call(server, "pid")).text)  # waits for the check and the restart
    assert fresh != hung
    assert not alive(hung)


async def test_the_loop_deadline_wins_when_it_is_shorter(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)  # timeout_s 60
    result = await call(server, "slow", '{"seconds": 30}', timeout_s=0.5)
    assert result.metadata["kind"] == "timeout"
    assert "within 0.475 seconds" in result.text  # a little under the loop's own deadline


async def test_a_slow_tool_times_out_without_a_restart(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args, timeout_s=0.5)
    before = int((await call(server, "pid")).text)
    result = await call(server, "slow", '{"seconds": 30}')
    assert result.metadata["kind"] == "timeout"
    assert int((await call(server, "pid")).text) == before  # it still answered: kept


async def test_a_changed_tool_list_makes_the_new_tool_callable(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    await server.start()
    revision = server.tools_revision
    assert server.spec.function("triple") is None
    added = await call(server, "add_tool", '{"name": "triple"}')
    assert added.text == "added triple"
    assert await server.wait_for_tools(revision) > revision  # the notification arrived
    assert server.spec.function("triple") is not None
    doubled = await call(server, "triple", '{"x": 21}')
    assert (doubled.text, doubled.is_error) == ("42", False)


async def test_an_is_error_result_is_an_error_result(servers: Make,
                                                     fault_args: dict[str, Any]) -> None:
    result = await call(servers(**fault_args), "fail")
    assert result.is_error and not result.invalid_call
    assert result.metadata["kind"] == "tool_error"
    assert "the disk is full" in result.text


async def test_a_huge_result_is_cut_with_a_note(servers: Make,
                                                fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args, max_result_bytes=4096)
    result = await call(server, "huge", '{"size": 100000}')
    assert not result.is_error
    assert result.text.startswith("x" * 4096) and "x" * 4097 not in result.text
    assert "[... cut: the result was 97.7 KiB; only its first 4.0 KiB are shown" in result.text
    assert result.metadata["truncated_bytes"] == 100000 - 4096
    small = await call(server, "huge", '{"size": 10}')
    assert small.text == "x" * 10 and "truncated_bytes" not in small.metadata


async def test_invalid_arguments_are_refused_before_the_call(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    wrong_type = await call(server, "checked", '{"count": "two", "mode": "medium"}')
    assert wrong_type.invalid_call and wrong_type.metadata["kind"] == "schema_violation"
    assert "arguments.count: 'two' is not of type 'integer'" in wrong_type.text
    assert "arguments.mode: 'medium' is not one of ['fast', 'slow']" in wrong_type.text
    missing = await call(server, "checked", '{"count": 2}')
    assert "'mode' is a required property" in missing.text
    broken = await call(server, "checked", '{"count": 2, "mode": "fast"')
    assert broken.invalid_call and broken.metadata["kind"] == "invalid_json"
    assert (await call(server, "checked_calls")).text == "0"  # none reached the server
    assert (await call(server, "checked", '{"count": 2, "mode": "fast"}')).text == "fast x2"
    assert (await call(server, "checked_calls")).text == "1"


async def test_an_unknown_tool_gets_the_available_names(servers: Make,
                                                        fault_args: dict[str, Any]) -> None:
    result = await call(servers(**fault_args), "nope")
    assert result.metadata["kind"] == "unknown_tool"
    assert "there is no tool functions.faults_nope" in result.text
    assert "functions.faults_echo" in result.text


async def test_media_results_are_described(servers: Make, fault_args: dict[str, Any]) -> None:
    result = await call(servers(**fault_args), "media")
    assert result.text.splitlines() == [
        "here are files",
        "[image: image/png, 2.0 KiB; its data is not shown]",
        "[resource link file:///tmp/report.pdf (application/pdf, 4.0 KiB)] report",
        "[binary resource file:///tmp/blob.bin (application/octet-stream, 2.9 KiB)]; its "
        "data is not shown",
    ]


async def test_a_server_whose_restart_fails_is_unavailable(
        servers: Make, fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    crashed = await call(server, "crash", '{"for_good": true}')  # the restart will refuse
    assert crashed.metadata["kind"] == "server_exited"
    with pytest.raises(MCPServerError, match="refusing to start") as caught:
        await call(server, "echo", '{"text": "?"}')
    assert isinstance(caught.value, ToolUnavailableError)
    assert "its restart after it stopped" in str(caught.value)
    with pytest.raises(MCPServerError):  # and it stays unavailable, without new attempts
        await call(server, "echo", '{"text": "?"}')


async def test_a_server_that_exits_at_start_is_unavailable_with_its_stderr(
        servers: Make, fault_args: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "refuse-start").write_text("refuse")
    server = servers(**fault_args)
    with pytest.raises(MCPServerError) as caught:
        await server.start()
    message = str(caught.value)
    assert "exited before it finished the MCP handshake" in message
    assert "refusing to start" in message and "tried twice" in message


async def test_a_missing_command_is_unavailable(servers: Make, tmp_path: Path) -> None:
    server = servers(command=str(tmp_path / "no-such-server"))
    with pytest.raises(MCPServerError, match="could not be started"):
        await server.start()
    with pytest.raises(ToolUnavailableError):
        server.spec  # noqa: B018


async def test_a_server_that_never_answers_the_handshake_times_out(
        servers: Make, tmp_path: Path) -> None:
    silent = tmp_path / "silent.py"
    silent.write_text("import sys\nsys.stdin.read()\n")  # never answers; ends at EOF
    server = servers(command=sys.executable, args=[str(silent)], startup_timeout_s=0.5)
    with pytest.raises(MCPServerError, match="did not start and list its tools within 0.5"):
        await server.start()


def test_spec_from_sync_code_and_calls_from_two_event_loops(fault_args: dict[str, Any]) -> None:
    from gptoss_agent.tools.mcp import MCPServerConfig

    before = children()
    server = MCPServer(MCPServerConfig("faults", **fault_args))
    assert server.spec.function("echo") is not None  # connects, blocking this thread
    first = asyncio.run(call(server, "echo", '{"text": "one"}'))
    second = asyncio.run(call(server, "echo", '{"text": "two"}'))  # a fresh loop
    assert (first.text, second.text) == ("one", "two")
    spawned = children() - before
    assert len(spawned) == 1
    asyncio.run(server.aclose())
    assert not any(alive(pid) for pid in spawned)
    asyncio.run(server.aclose())  # idempotent


async def test_closing_stops_the_process(fault_args: dict[str, Any]) -> None:
    from gptoss_agent.tools.mcp import MCPServerConfig

    before = children()
    server = MCPServer(MCPServerConfig("faults", **fault_args))
    pid = json.loads((await call(server, "pid")).text)
    assert pid in children() - before
    await server.aclose()
    assert not alive(pid)
    with pytest.raises(MCPServerError, match="closed"):
        await call(server, "pid")
    assert server.spec.function("pid") is not None  # what it offered can still be shown
    with pytest.raises(MCPServerError, match="closed"):
        await server.start()


def test_a_server_whose_loop_closed_moves_to_the_loop_thread(fault_args: dict[str, Any]) -> None:
    from gptoss_agent.tools.mcp import MCPServerConfig

    server = MCPServer(MCPServerConfig("faults", **fault_args))

    async def first_turn() -> int:
        await server.start()  # lives on this loop: calls go straight to the SDK
        return int((await call(server, "pid")).text)

    first = asyncio.run(first_turn())
    assert not alive(first)  # the loop's end stopped its process
    assert server.tools_revision == 1  # the listing is still known
    second = int(asyncio.run(call(server, "pid")).text)
    assert second != first and server.tools_revision == 2
    third = int(asyncio.run(call(server, "pid")).text)  # the loop thread outlives loops
    assert third == second
    asyncio.run(server.aclose())
    assert not alive(second)


async def test_concurrent_calls_share_one_connection(servers: Make,
                                                     fault_args: dict[str, Any]) -> None:
    server = servers(**fault_args)
    texts = [f"call {index}" for index in range(12)]
    results = await asyncio.gather(*(call(server, "echo", json.dumps({"text": text}))
                                     for text in texts))
    assert [result.text for result in results] == texts
    pids = {(await call(server, "pid")).text for _ in range(3)}
    assert len(pids) == 1


@pytest.mark.parametrize("first_use", ["spec", "start"])
def test_a_server_left_open_is_stopped_when_python_exits(first_use: str,
                                                         fault_args: dict[str, Any]) -> None:
    use = ("server.spec" if first_use == "spec"
           else "asyncio.run(server.start())")  # the loop thread, or a loop that then ends
    script = (
        "import asyncio, os, sys\n"
        "from gptoss_agent.tools.mcp import MCPServer, MCPServerConfig\n"
        f"server = MCPServer(MCPServerConfig('faults', command={sys.executable!r}, "
        f"args={[*fault_args['args'], '--linger']!r}))\n"
        f"{use}\n"
        "def parent(pid):\n"
        "    try:\n"
        "        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1]\n"
        "    except OSError:\n"
        "        return None  # a process that exited meanwhile\n"
        "kids = [p for p in os.listdir('/proc') if p.isdigit() and "
        "parent(p) == str(os.getpid())]\n"
        "print(' '.join(kids), flush=True)\n"
    )  # and exits without closing the server
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    pids = [int(pid) for pid in done.stdout.split()]
    if first_use == "start":
        assert pids == []  # the end of its loop stopped it already
        return
    assert len(pids) == 1 and not alive(pids[0])  # stopped at exit, not by the end of stdin
