"""A cancelled run ends with ``StopReason.CANCELLED``, every call answered and a complete
transcript, lets the cancellation propagate, and the session goes on afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.events import Event, RunFinished
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.result import StopReason
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from gptoss_agent.tools.function import function_tool

CALL_SLOW = ("<|channel|>commentary to=functions.slow <|constrain|>json"
             "<|message|>{}<|call|>")
FINAL = "<|channel|>final<|message|>Done.<|return|>"


class StallAfter(ScriptedBackend):
    """Samples ``text``, then never finishes (a stalled model, or a stream left open)."""

    def __init__(self, text: str, codec: HarmonyCodec) -> None:
        super().__init__([], codec=codec)
        self.codec, self.text, self.sampled = codec, text, asyncio.Event()

    async def generate(self, request):  # type: ignore[no-untyped-def]
        for token in self.codec.encode_with_special(self.text):
            yield token
        self.sampled.set()
        await asyncio.Event().wait()


async def cancel_when(reached: asyncio.Event, work: Coroutine[Any, Any, Any]) -> None:
    """Start ``work``, cancel it once ``reached`` is set, and see the cancellation out."""
    task = asyncio.create_task(work)
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def slow_tool(entered: asyncio.Event) -> object:
    @function_tool(timeout_s=None)
    async def slow() -> str:
        """Waits until cancelled."""
        entered.set()
        await asyncio.Event().wait()
        return "never"

    return slow


async def test_cancelling_a_run_mid_call_records_it_and_the_session_goes_on(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    entered = asyncio.Event()
    agent = Agent(ScriptedBackend([CALL_SLOW, FINAL], codec=codec), [slow_tool(entered)],
                  codec=codec, conversation_start_date="")
    events: list[Event] = []
    path = tmp_path / "run.jsonl"
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        await cancel_when(entered, session.send("go", on_event=events.append))
        finished = [e for e in events if isinstance(e, RunFinished)]
        assert [f.result.stop_reason for f in finished] == [StopReason.CANCELLED]
        tool_messages = [m for m in finished[0].result.new_messages if m.role == "tool"]
        assert tool_messages and "cancelled" in tool_messages[-1].text
        follow_up = await session.send("again")
        assert follow_up.stop_reason is StopReason.FINAL and follow_up.final_text == "Done."
    records = read_records(path)
    reasons = [r["result"]["stop_reason"] for r in records if r["type"] == "run_finished"]
    assert reasons == ["cancelled", "final"]


async def test_cancelling_mid_generation_keeps_what_was_sampled(codec: HarmonyCodec) -> None:
    stalling = StallAfter("<|channel|>analysis<|message|>thinking", codec)
    agent = Agent(stalling, [], codec=codec, conversation_start_date="")
    events: list[Event] = []
    async with agent.session("s") as session:
        await cancel_when(stalling.sampled, session.send("go", on_event=events.append))
    result = next(e.result for e in events if isinstance(e, RunFinished))
    assert result.stop_reason is StopReason.CANCELLED
    assert result.usage.sampled_tokens > 0
    assert [m.text for m in result.new_messages if m.role == "assistant"] == ["thinking"]


async def test_a_cancelled_run_is_resumed_from_its_transcript(codec: HarmonyCodec,
                                                              tmp_path: Path) -> None:
    entered = asyncio.Event()
    path = tmp_path / "run.jsonl"
    agent = Agent(ScriptedBackend([CALL_SLOW], codec=codec), [slow_tool(entered)],
                  codec=codec, conversation_start_date="")
    session = agent.session("s", transcript=TranscriptWriter(path))
    await cancel_when(entered, session.send("go"))
    await session.aclose()
    records = read_records(path)
    from gptoss_agent.agent.transcript import replay_conversation

    assert replay_conversation(records).finished is False  # cancelled: resumable
    again = Agent(ScriptedBackend([FINAL], codec=codec), [slow_tool(asyncio.Event())],
                  codec=codec, conversation_start_date="")
    resumed = again.restore_session(records, TranscriptWriter(path))
    result = await resumed.resume()
    assert (result.stop_reason, result.final_text) == (StopReason.FINAL, "Done.")
    await resumed.aclose()


async def test_a_call_waiting_for_approval_is_answered_when_cancelled(
        codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.approval import ApprovalPolicy

    asked = asyncio.Event()

    async def never(call: object) -> bool:
        asked.set()
        await asyncio.Event().wait()
        return True

    agent = Agent(ScriptedBackend([CALL_SLOW, FINAL], codec=codec),
                  [slow_tool(asyncio.Event())], codec=codec, conversation_start_date="",
                  approval=ApprovalPolicy.of(["functions.slow"], never))
    events: list[Event] = []
    async with agent.session("s") as session:
        await cancel_when(asked, session.send("go", on_event=events.append))
        result = next(e.result for e in events if isinstance(e, RunFinished))
        assert [m.role for m in result.new_messages] == ["user", "assistant", "tool"]
        assert "cancelled" in result.new_messages[-1].text


async def test_a_sampled_call_is_answered_when_the_run_is_cancelled_before_it_runs(
        codec: HarmonyCodec) -> None:
    stalling = StallAfter(CALL_SLOW, codec)
    agent = Agent(stalling, [slow_tool(asyncio.Event())], codec=codec,
                  conversation_start_date="")
    events: list[Event] = []
    async with agent.session("s") as session:
        await cancel_when(stalling.sampled, session.send("go", on_event=events.append))
    result = next(e.result for e in events if isinstance(e, RunFinished))
    tool = [m for m in result.new_messages if m.role == "tool"]
    assert len(tool) == 1 and "the call was not made" in tool[0].text


async def test_a_cut_off_answer_is_not_taken_as_the_answer_on_resume(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    stalling = StallAfter("<|channel|>final<|message|>It is 65", codec)
    path = tmp_path / "run.jsonl"
    agent = Agent(stalling, [], codec=codec, conversation_start_date="")
    session = agent.session("s", transcript=TranscriptWriter(path))
    await cancel_when(stalling.sampled, session.send("temperature?"))
    await session.aclose()
    again = Agent(ScriptedBackend(["<|channel|>final<|message|>It is 65 °F.<|return|>"],
                                  codec=codec), [], codec=codec, conversation_start_date="")
    resumed = again.restore_session(read_records(path))
    result = await resumed.resume()
    assert result.final_text == "It is 65 °F."
    await resumed.aclose()
