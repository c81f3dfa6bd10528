"""Cancelling a run whose python call spins, against the real engine: the code in the
container is stopped, the run ends ``CANCELLED`` with every call answered and a complete
transcript, and the next message in the session runs python normally (variables kept when
the interrupt was heard, a fresh container when the code ignored it, as docs/sandbox.md
"Cancelled calls" says)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.events import Event, RunFinished, ToolCallFinished
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import RunResult, StopReason
from gptoss_agent.agent.transcript import TranscriptWriter, read_records, replay_conversation
from gptoss_agent.sandbox import DockerSandbox, SandboxConfig, SandboxLimits
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.labels import SESSION
from gptoss_agent.tools.python_tool import PythonTool
from tests.agent.scripting import scripted_agent
from tests.sandbox.conftest import require_engine

pytestmark = pytest.mark.docker

SPIN = "open('/mnt/data/started', 'w').close()\nwhile True:\n    pass"
"""Says it runs, then burns CPU until interrupted."""
STUBBORN = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" + SPIN
"""The same, deaf to the interrupt: only a new container stops it."""
FINAL = "<|channel|>final<|message|>Done.<|return|>"


def python(code: str) -> str:
    return f"<|channel|>analysis to=python code<|message|>{code}<|call|>"


def make_tool(tmp_path: Path) -> PythonTool:
    return PythonTool(SandboxConfig(limits=SandboxLimits(timeout_s=60.0, interrupt_grace_s=2.0)),
                      data_dir=tmp_path / "drives")


async def poll(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s}s")
        await asyncio.sleep(0.05)


async def cancel_once_started(tool: PythonTool, work: Coroutine[Any, Any, RunResult]) -> float:
    """Run ``work``, cancel it once its spinning cell runs, and see the cancellation out.

    Returns how long the cancellation took to come back.
    """
    task = asyncio.create_task(work)
    await poll(lambda: task.done() or any(tool.data_root.glob("*/started")),
               "the spinning cell starting")
    assert not task.done(), task
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(60):  # a hang here would be a bug of its own
            await task
    return time.monotonic() - cancelled_at


def cancelled_result(events: list[Event]) -> RunResult:
    finished = [e.result for e in events if isinstance(e, RunFinished)]
    assert [r.stop_reason for r in finished] == [StopReason.CANCELLED]
    result = finished[0]
    tools = [m for m in result.new_messages if m.role == "tool"]
    assert len(tools) == 2, [m.text for m in result.new_messages]  # both calls answered
    assert "cancelled" in tools[-1].text.lower(), tools[-1].text
    return result


def assert_complete_transcript(path: Path) -> None:
    records = read_records(path)
    reasons = [r["result"]["stop_reason"] for r in records if r["type"] == "run_finished"]
    assert reasons == ["cancelled", "final"]
    kinds = [r["event"]["type"] for r in records if r["type"] == "event"]
    assert kinds.count("tool_call") == kinds.count("tool_result") == 3
    assert replay_conversation(records).finished is True


def session_containers(engine: Engine, session_id: str) -> list[dict[str, Any]]:
    return [dict(c) for c in engine.sandbox_containers()
            if (c.get("Labels") or {}).get(SESSION) == session_id]


@pytest.mark.parametrize("spin", [SPIN, STUBBORN], ids=["interruptible", "deaf"])
async def test_a_cancelled_run_stops_the_spin_and_the_next_send_runs_python(
        codec: HarmonyCodec, tmp_path: Path, spin: str) -> None:
    engine = require_engine()
    tool = make_tool(tmp_path)
    script = [python("x = 41\nprint('set')"), python(spin),
              python("print(globals().get('x'), 6 * 7)"), FINAL]
    agent, _ = scripted_agent(codec, script, [tool])
    events: list[Event] = []
    path = tmp_path / "run.jsonl"
    sid = f"spin-{uuid.uuid4().hex[:8]}"  # a container name of its own
    try:
        async with agent.session(sid, transcript=TranscriptWriter(path)) as session:
            took = await cancel_once_started(tool, session.send("go", on_event=events.append))
            assert took < 30, f"the cancellation took {took:.1f}s"
            cancelled_result(events)
            box = tool.sandbox(sid)
            assert isinstance(box, DockerSandbox)
            later: list[Event] = []
            follow_up = await session.send("again", on_event=later.append)
            assert (follow_up.stop_reason, follow_up.final_text) == (StopReason.FINAL, "Done.")
            [answer] = [m for m in follow_up.new_messages if m.role == "tool"]
            [ran] = [e.result for e in later if isinstance(e, ToolCallFinished)]
            assert (ran.is_error, ran.metadata["status"]) == (False, "ok"), ran
            if spin is SPIN:  # the interrupt was heard: same container, variables kept
                assert answer.text.strip() == "41 42", answer.text
                assert box.containers_started == 1
                assert ran.metadata["state_reset"] is False
            else:  # deaf to it: the container was replaced, and the model is told so
                assert answer.text.strip().startswith("None 42"), answer.text
                assert box.containers_started == 2
                assert ran.metadata["state_reset"] is True
                assert "previous call was cancelled" in answer.text
                assert "variables and imports are gone" in answer.text
            assert len(session_containers(engine, sid)) == 1
    finally:
        await tool.aclose()
    assert_complete_transcript(path)
    assert session_containers(engine, sid) == []


async def test_a_cancelled_agent_run_removes_its_container_and_the_next_run_works(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    engine = require_engine()
    tool = make_tool(tmp_path)
    script = [python("x = 1"), python(SPIN), python("print(6 * 7)"), FINAL]
    agent, _ = scripted_agent(codec, script, [tool])
    events: list[Event] = []
    try:
        await cancel_once_started(tool, agent.run("go", on_event=events.append))
        cancelled_result(events)
        [drive] = [p.parent for p in tool.data_root.glob("*/started")]
        assert session_containers(engine, drive.name) == [], "the run's container was left"
        later: list[Event] = []
        again = await agent.run("again", on_event=later.append)
        assert (again.stop_reason, again.final_text) == (StopReason.FINAL, "Done.")
        [ran] = [e.result for e in later if isinstance(e, ToolCallFinished)]
        assert ran.text.strip() == "42", ran.text
        assert (ran.is_error, ran.metadata["status"], ran.metadata["state_reset"]) == (
            False, "ok", False)
    finally:
        await tool.aclose()


@pytest.mark.parametrize("spin", [SPIN, STUBBORN], ids=["interruptible", "deaf"])
async def test_the_loops_tool_timeout_stops_a_spin_and_the_run_goes_on(
        codec: HarmonyCodec, tmp_path: Path, spin: str) -> None:
    """``LoopLimits.tool_timeout_s`` (the sandbox's own limit is 60 s): the run is not
    cancelled, the model reads a timeout and its next call runs."""
    tool = make_tool(tmp_path)
    script = [python("x = 41"), python(spin), python("print(globals().get('x'), 6 * 7)"),
              FINAL]
    agent, _ = scripted_agent(codec, script, [tool], limits=LoopLimits(tool_timeout_s=4.0))
    events: list[Event] = []
    try:
        result = await agent.run("go", on_event=events.append)
        assert (result.stop_reason, result.final_text) == (StopReason.FINAL, "Done.")
        first, spun, after = [e.result for e in events if isinstance(e, ToolCallFinished)]
        assert not first.is_error and spun.is_error, spun
        assert not after.is_error and after.metadata["status"] == "ok", after
        if spin is SPIN:  # the sandbox stopped it a grace period early: variables kept
            assert (spun.metadata["status"], spun.metadata["limit"]) == ("timeout", "timeout_s")
            assert after.text.strip() == "41 42" and after.metadata["state_reset"] is False
        else:  # deaf: the loop's deadline ends the call, a new container answers next
            assert "did not answer within 4 seconds" in spun.text, spun.text
            assert after.text.strip().startswith("None 42"), after.text
            assert after.metadata["state_reset"] is True
            assert "variables and imports are gone" in after.text
    finally:
        await tool.aclose()
