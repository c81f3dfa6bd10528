"""Resume, exactly once: one writer per transcript, and a started call is never silently re-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.dispatch import LOST_RESULT
from gptoss_agent.agent.events import Event, ToolCallStarted
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.transcript import (
    TranscriptBusyError,
    TranscriptWriter,
    read_records,
)
from gptoss_agent.tools.function import function_tool
from tests.agent.scripting import FINAL

CALL_CHARGE = ("<|channel|>commentary to=functions.charge <|constrain|>json"
               '<|message|>{"cents": 500}<|call|>')
CALL_QUOTE = ("<|channel|>commentary to=functions.quote <|constrain|>json"
              '<|message|>{"cents": 500}<|call|>')

charged: list[int] = []


@function_tool
def charge(cents: int) -> str:
    """Charge a card (not safe to repeat).

    Args:
        cents: Amount.
    """
    charged.append(cents)
    return f"charged {cents}"


@function_tool(idempotent=True)
def quote(cents: int) -> str:
    """Quote a price (safe to repeat).

    Args:
        cents: Amount.
    """
    charged.append(-cents)
    return f"quoted {cents}"


async def record_run(codec: HarmonyCodec, path: Path, call: str) -> list[dict[str, Any]]:
    agent = Agent(ScriptedBackend([call, FINAL], codec=codec), [charge, quote], codec=codec)
    writer = TranscriptWriter(path)
    try:
        async with agent.session(transcript=writer) as session:
            assert (await session.send("pay")).ok
    finally:
        writer.close()
    return read_records(path)


def crashed_at(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The records a crash leaves right after the first record of ``kind``."""
    index = next(i for i, record in enumerate(records) if record["type"] == kind)
    return records[: index + 1]


async def resume(codec: HarmonyCodec, records: list[dict[str, Any]]
                 ) -> tuple[str, list[Event], ScriptedBackend]:
    backend = ScriptedBackend([FINAL], codec=codec)
    agent = Agent(backend, [charge, quote], codec=codec)
    session = agent.restore_session(records)
    events: list[Event] = []
    result = await session.resume(on_event=events.append)
    await session.aclose()
    assert result.ok
    return backend.decoded_prompts()[0], events, backend


async def test_a_started_call_without_result_is_told_lost_not_rerun(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_CHARGE)
    assert [r for r in records if r["type"] == "call_started"] == [
        {"type": "call_started", "call_id": "call_1", "recipient": "functions.charge"}]
    charged.clear()
    prompt, _events, _backend = await resume(codec, crashed_at(records, "call_started"))
    assert charged == []  # the card is not charged twice
    assert LOST_RESULT in prompt


async def test_an_idempotent_call_is_run_again(codec: HarmonyCodec, tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_QUOTE)
    charged.clear()
    prompt, events, _backend = await resume(codec, crashed_at(records, "call_started"))
    assert charged == [-500]
    assert "quoted 500" in prompt and LOST_RESULT not in prompt
    started = [e.call.call_id for e in events if isinstance(e, ToolCallStarted)]
    assert started == ["call_2"]  # call ids continue after the restored count


async def test_a_call_that_never_started_runs_on_resume(codec: HarmonyCodec,
                                                        tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_CHARGE)
    sampled = next(i for i, r in enumerate(records)
                   if r["type"] == "segment" and r["kind"] == "assistant")
    charged.clear()
    prompt, _events, _backend = await resume(codec, records[: sampled + 1])
    assert charged == [500]
    assert "charged 500" in prompt and LOST_RESULT not in prompt


async def test_a_call_answered_before_the_crash_is_left_alone(codec: HarmonyCodec,
                                                             tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_CHARGE)
    tool_segment = next(i for i, r in enumerate(records)
                        if r["type"] == "segment" and r["kind"] == "tool")
    charged.clear()
    prompt, _events, _backend = await resume(codec, records[: tool_segment + 1])
    assert charged == [] and LOST_RESULT not in prompt
    assert prompt.count("charged 500") == 1


def test_two_writers_of_one_transcript_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first = TranscriptWriter(path)
    try:
        with pytest.raises(TranscriptBusyError, match="another gptoss-agent process"):
            TranscriptWriter(path)
    finally:
        first.close()
    TranscriptWriter(path).close()  # free again once the first one closed
