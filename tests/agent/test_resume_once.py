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
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.transcript import (
    TranscriptBusyError,
    TranscriptError,
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


async def record_run(codec: HarmonyCodec, path: Path, call: str,
                     agent: Agent | None = None) -> list[dict[str, Any]]:
    """The records of one whole run: ``call`` then the answer (or ``agent``'s own script)."""
    agent = agent or Agent(ScriptedBackend([call, FINAL], codec=codec), [charge, quote],
                           codec=codec)
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


def after_segment(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The records a crash leaves right after the first segment of ``kind``."""
    index = next(i for i, record in enumerate(records)
                 if record["type"] == "segment" and record["kind"] == kind)
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
    charged.clear()
    prompt, _events, _backend = await resume(codec, after_segment(records, "assistant"))
    assert charged == [500]
    assert "charged 500" in prompt and LOST_RESULT not in prompt


async def test_a_call_answered_before_the_crash_is_left_alone(codec: HarmonyCodec,
                                                             tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_CHARGE)
    charged.clear()
    prompt, _events, _backend = await resume(codec, after_segment(records, "tool"))
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


@function_tool
def long_log() -> str:
    """A log far longer than a result's budget."""
    return "".join(f"line {n}: ok\n" for n in range(400))


CALL_LOG = ("<|channel|>commentary to=functions.long_log <|constrain|>json"
            "<|message|>{}<|call|>")
CALL_PAGE = ("<|channel|>commentary to=functions.read_tool_output <|constrain|>json"
             '<|message|>{"id": "call_1", "page": 2}<|call|>')


async def test_a_lost_page_of_a_cut_output_is_read_again(codec: HarmonyCodec,
                                                         tmp_path: Path) -> None:
    limits = LoopLimits(tool_output_tokens=256)
    agent = Agent(ScriptedBackend([CALL_LOG, CALL_PAGE, FINAL], codec=codec), [long_log],
                  codec=codec, limits=limits)
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_LOG, agent)
    page_started = [i for i, r in enumerate(records) if r["type"] == "call_started"][1]
    backend = ScriptedBackend([FINAL], codec=codec)
    again = Agent(backend, [long_log], codec=codec, limits=limits)
    session = again.restore_session(records[: page_started + 1])
    assert (await session.resume()).ok
    await session.aclose()
    prompt = backend.decoded_prompts()[0]
    assert LOST_RESULT not in prompt and "[call_1 (functions.long_log), page 2 of" in prompt


def test_a_file_system_that_cannot_lock_is_a_transcript_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from gptoss_agent.agent import file_lock

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(file_lock.fcntl, "flock", no_locks)
    with pytest.raises(TranscriptError, match="cannot lock the transcript.*No locks") as caught:
        TranscriptWriter(tmp_path / "t.jsonl")
    assert not isinstance(caught.value, TranscriptBusyError)


async def test_a_new_message_to_a_restored_session_answers_its_open_call_first(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    records = await record_run(codec, tmp_path / "t.jsonl", CALL_CHARGE)
    for cut, said in ((crashed_at(records, "call_started"), LOST_RESULT),
                      (after_segment(records, "assistant"), "the call was not made")):
        backend = ScriptedBackend([FINAL], codec=codec)
        session = Agent(backend, [charge, quote], codec=codec).restore_session(cut)
        charged.clear()
        assert (await session.send("Something else, please.")).ok
        await session.aclose()
        prompt = backend.decoded_prompts()[0]
        assert charged == []  # not run now: the conversation moved on
        answer = prompt.index("<|start|>functions.charge to=assistant")
        assert said in prompt[answer:] and answer < prompt.index("Something else, please.")
        assert not session.state.lost_call
