"""An elided result stays readable: its stub names the pager call, in the run and on resume."""

from __future__ import annotations

import json
from pathlib import Path

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context import CompactionConfig
from gptoss_agent.agent.events import ContextCompacted, Event, ToolCallFinished
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import StopReason
from gptoss_agent.agent.tool_output import full_text_at, output_store
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from gptoss_agent.tools.base import ToolResult
from gptoss_agent.tools.function import function_tool
from tests.agent.context.episode import FINAL, call, read_log

ELIDE = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.8, target=0.5)
CALLS = 16
STUB_OF_PART_0 = ('full text: functions.read_tool_output(id="elided_1", page=1)]'
                  "<|end|>")


def log_part(part: int) -> str:
    """What ``read_log`` answers for ``part``."""
    return str(read_log.handler(part=part))


def trace_text(part: int) -> str:
    """What ``read_trace`` answers for ``part``."""
    return str(read_trace.handler(part=part))


def read_back(output_id: str, page: int = 1) -> str:
    """The model's call of the pager."""
    return ("<|channel|>commentary to=functions.read_tool_output <|constrain|>json"
            f"<|message|>{json.dumps({'id': output_id, 'page': page})}<|call|>")


def script() -> list[str]:
    """Sixteen log parts, then part 0 read back through its stub's id, then the answer."""
    return [*(call(part) for part in range(CALLS)), read_back("elided_1"), FINAL]


def agent_for(codec: HarmonyCodec, completions: list[str], max_generations: int = 30
              ) -> tuple[Agent, ScriptedBackend]:
    """An agent with the log tool, in a 2,500-token window that elision keeps it in."""
    backend = ScriptedBackend(completions, codec=codec)
    return Agent(backend, [read_log], codec=codec, conversation_start_date="2026-11-28",
                 context_window=2500, limits=LoopLimits(max_generations=max_generations),
                 compaction=ELIDE), backend


def page_answers(events: list[Event]) -> list[str]:
    return [e.result.text for e in events if isinstance(e, ToolCallFinished)
            and e.call.recipient == "functions.read_tool_output"]


async def test_an_uncut_elided_result_is_read_back_in_the_same_run(
        codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, script())
    events: list[Event] = []
    result = await agent.run("Why did the build fail?", on_event=events.append)
    assert result.stop_reason is StopReason.FINAL, result.error
    assert any(isinstance(e, ContextCompacted) for e in events)
    # The prompt the model read the id in: part 0's result is a stub naming the pager.
    asking = backend.decoded_prompts()[CALLS]
    assert "functions.read_log to=assistant<|channel|>commentary<|message|>[elided: " in asking
    assert STUB_OF_PART_0 in asking and log_part(0) not in asking
    (answer,) = page_answers(events)
    assert answer.startswith("[elided_1 (functions.read_log), page 1 of 1: lines 1–12]\n")
    assert log_part(0) in answer and answer.endswith("[end of elided_1]")


async def test_a_resumed_session_pages_the_same_id(codec: HarmonyCodec,
                                                   tmp_path: Path) -> None:
    straight, whole = agent_for(codec, script())
    events: list[Event] = []
    assert (await straight.run("Why did the build fail?", on_event=events.append)).ok

    path = tmp_path / "t.jsonl"
    stopped, first_part = agent_for(codec, script()[:CALLS], max_generations=CALLS)
    async with stopped.session(transcript=TranscriptWriter(path)) as session:
        first = await session.send("Why did the build fail?")
    assert first.stop_reason is StopReason.MAX_GENERATIONS and first.usage.compactions
    records = read_records(path)
    kept = [o for r in records if r["type"] == "compaction" for o in r.get("kept_outputs", ())]
    assert kept[0]["id"] == "elided_1" and kept[0]["text"] == log_part(0)

    resumed, rest = agent_for(codec, script()[CALLS:])
    resumed_events: list[Event] = []
    async with resumed.restore_session(records, TranscriptWriter(path)) as again:
        held = output_store(again.state).get(again.session_id, "elided_1")
        assert held is not None and held.text == log_part(0)
        finished = await again.resume(on_event=resumed_events.append)
    assert finished.ok
    assert page_answers(resumed_events) == page_answers(events)  # the same page, same id
    assert first_part.prompts + rest.prompts == whole.prompts  # token for token, stubs too


@function_tool
def read_trace(part: int) -> str:
    """Read one long stack trace.

    Args:
        part: Which trace.
    """
    return "\n".join(f"trace {part} frame {n}: at module_{n}.py in handler_{n}()"
                     for n in range(60))


async def test_a_result_already_cut_keeps_naming_its_place(codec: HarmonyCodec,
                                                          tmp_path: Path) -> None:
    trace = ("<|channel|>commentary to=functions.read_trace <|constrain|>json"
             '<|message|>{"part": 0}<|call|>')
    completions = [trace, *(call(part) for part in range(CALLS)), FINAL]
    backend = ScriptedBackend(completions, codec=codec)
    agent = Agent(backend, [read_log, read_trace],
                  codec=codec, conversation_start_date="2026-11-28", context_window=2500,
                  limits=LoopLimits(max_generations=30, tool_output_budgets={
                      "functions.read_trace": 256}),
                  compaction=ELIDE)
    events: list[Event] = []
    path = tmp_path / "t.jsonl"
    async with agent.session(transcript=TranscriptWriter(path)) as session:
        result = await session.send("Why did the build fail?", on_event=events.append)
        held = output_store(session.state).outputs(session.session_id)
    assert result.ok, result.error
    (cut,) = [e.result for e in events if isinstance(e, ToolCallFinished)
              and e.call.recipient == "functions.read_trace"]
    cut_id = cut.metadata["output_cut"]["id"]
    last = backend.decoded_prompts()[-1]
    assert (f'tokens of output; full text: functions.read_tool_output(id="{cut_id}", '
            'page=1)]<|end|>') in last  # the cut result's stub names its own place
    # The trace is held once, under its own id; the elided log parts under new ones.
    assert [o.output_id for o in held if o.text == trace_text(0)] == [cut_id]
    assert all(o.output_id.startswith("elided_") for o in held if o.output_id != cut_id)
    kept = [o for r in read_records(path) if r["type"] == "compaction"
            for o in r.get("kept_outputs", ())]
    assert kept and all(o["text"] != trace_text(0) for o in kept)


async def test_keep_elided_false_leaves_the_bare_stub(codec: HarmonyCodec) -> None:
    backend = ScriptedBackend([*(call(part) for part in range(CALLS)), FINAL], codec=codec)
    bare = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.8, target=0.5,
                            keep_elided=False)
    agent = Agent(backend, [read_log], codec=codec, conversation_start_date="2026-11-28",
                  context_window=2500, limits=LoopLimits(max_generations=30), compaction=bare)
    async with agent.session() as session:
        assert (await session.send("Why did the build fail?")).ok
        assert output_store(session.state).outputs(session.session_id) == ()
    last = backend.decoded_prompts()[-1]
    assert "tokens of output]<|end|>" in last and "read_tool_output" not in last


def test_a_page_read_back_names_its_own_page() -> None:
    page = ToolResult(text="[elided_1 (functions.read_log), page 2 of 3: lines 9–16]\n...",
                      metadata={"output_page": True, "id": "elided_1", "page": 2})
    assert full_text_at(page) == 'functions.read_tool_output(id="elided_1", page=2)'
    assert full_text_at(ToolResult(text="fits")) is None  # elision keeps this one itself
