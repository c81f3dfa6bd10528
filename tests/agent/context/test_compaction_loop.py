"""Compaction in the loop: a long scripted episode in a small window."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest

from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context import CompactionConfig, CompactionReport
from gptoss_agent.agent.events import ContextCompacted
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.result import StopReason
from tests.agent.context.episode import episode_agent, well_formed

ELIDE = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.8, target=0.5)


async def test_elision_lets_a_long_episode_finish(codec: HarmonyCodec) -> None:
    agent, backend = episode_agent(codec, 24, window=2500, compaction=ELIDE)
    events: list[object] = []
    result = await agent.run("Why did the build fail?", on_event=events.append)
    assert result.stop_reason is StopReason.FINAL, result.error
    backend.assert_finished()
    reports = [e.report for e in events if isinstance(e, ContextCompacted)]
    assert len(reports) >= 2 and result.usage.compactions == len(reports)
    assert all(r.strategies == ("elide_tool_outputs",) and r.tokens_after < r.tokens_before
               for r in reports)
    assert all(len(prompt) + 256 <= 2500 for prompt in backend.prompts)
    last = backend.decoded_prompts()[-1]
    stub = "<|start|>functions.read_log to=assistant<|channel|>commentary<|message|>[elided: "
    assert stub in last
    assert well_formed(codec, last)
    assert last.count("<|call|>") == 24  # every call kept, each with its (stubbed) result
    # The most recent results are verbatim: the last part's lines are all there.
    assert "part 23 line 11:" in last and "part 0 line 0:" not in last


async def test_compaction_is_rare_and_keeps_the_prefix(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.backends.transformers.prefix_cache import common_prefix_length

    agent, backend = episode_agent(codec, 24, window=2500, compaction=ELIDE)
    events: list[object] = []
    await agent.run("Why did the build fail?", on_event=events.append)
    reports = [e.report for e in events if isinstance(e, ContextCompacted)]
    assert 1 <= len(reports) < 24 / 3  # toward the target, not just under the threshold
    prompts = backend.prompts
    start = len(codec.encode_with_special("<|start|>assistant"))
    rewritten = [common_prefix_length(before, after)
                 for before, after in itertools.pairwise(prompts)
                 if after[:len(before) - start] != before[:-start]]
    # Each compaction is one rewrite, and the history changed exactly where it says.
    assert rewritten == [report.first_changed_token for report in reports]


async def test_without_compaction_the_same_episode_is_context_full(codec: HarmonyCodec) -> None:
    agent, _ = episode_agent(codec, 24, window=2500, compaction=CompactionConfig(strategies=()))
    result = await agent.run("Why did the build fail?")
    assert result.stop_reason is StopReason.CONTEXT_FULL


async def test_by_default_the_same_episode_compacts_and_finishes(codec: HarmonyCodec) -> None:
    agent, _ = episode_agent(codec, 24, window=2500)
    result = await agent.run("Why did the build fail?")
    assert result.stop_reason is StopReason.FINAL and result.usage.compactions >= 1


async def test_when_nothing_more_can_go_it_stops_with_context_full(codec: HarmonyCodec) -> None:
    tight = CompactionConfig(strategies=("elide_tool_outputs",), keep_recent=2)
    agent, _ = episode_agent(codec, 40, window=900, compaction=tight)
    result = await agent.run("Why did the build fail?")
    assert result.stop_reason is StopReason.CONTEXT_FULL
    assert result.error is not None and "nothing more could be compacted" in result.error
    assert result.usage.compactions >= 1


async def test_a_token_count_threshold(codec: HarmonyCodec) -> None:
    by_tokens = CompactionConfig(strategies=("elide_tool_outputs",), threshold=700, target=0.3)
    agent, backend = episode_agent(codec, 8, window=100_000, compaction=by_tokens)
    result = await agent.run("Why did the build fail?")
    assert result.ok and result.usage.compactions >= 1
    assert all(len(prompt) <= 700 + 400 for prompt in backend.prompts)


async def test_summary_from_a_second_backend_is_in_the_prompt(codec: HarmonyCodec) -> None:
    summariser = ScriptedBackend(
        ["<|channel|>final<|message|>Parts 0-9 read; nothing failed yet.<|return|>"] * 4,
        codec=codec)
    config = CompactionConfig(strategies=("summarise",), summariser=summariser, target=0.4)
    agent, backend = episode_agent(codec, 14, window=2000, compaction=config)
    events: list[object] = []
    result = await agent.run("Why did the build fail?", on_event=events.append)
    assert result.ok, result.error
    reports = [e.report for e in events if isinstance(e, ContextCompacted)]
    assert reports and reports[0].strategies == ("summarise",)
    asked = summariser.decoded_prompts()[0]
    assert "part 0 line 0:" in asked and "Summarise the following" in asked
    last = backend.decoded_prompts()[-1]
    assert "[Summary of the earlier conversation, written to save context]" in last
    assert "Parts 0-9 read; nothing failed yet." in last
    assert "Why did the build fail?" in last and last.startswith("<|start|>system")
    assert well_formed(codec, last) and "part 13 line 11:" in last


async def test_a_failing_summariser_stops_the_run_cleanly(codec: HarmonyCodec) -> None:
    class Broken(ScriptedBackend):
        async def generate(self, request):  # type: ignore[no-untyped-def, override]
            raise ConnectionError("the summariser is down")
            yield 0  # pragma: no cover

    config = CompactionConfig(strategies=("summarise",), summariser=Broken([], codec=codec))
    agent, _ = episode_agent(codec, 14, window=2000, compaction=config)
    result = await agent.run("Why did the build fail?")
    assert result.stop_reason is StopReason.BACKEND_ERROR
    assert result.error is not None and "the summariser is down" in result.error


async def test_a_summariser_that_hangs_is_held_to_the_wall_time(codec: HarmonyCodec) -> None:
    class Hanging(ScriptedBackend):
        async def generate(self, request):  # type: ignore[no-untyped-def, override]
            await asyncio.Event().wait()  # never set: the summariser never answers
            yield 0  # pragma: no cover

    config = CompactionConfig(strategies=("summarise",), summariser=Hanging([], codec=codec))
    agent, _ = episode_agent(codec, 14, window=2000, compaction=config)
    agent.limits = dataclasses.replace(agent.limits, wall_time_s=1.0)
    result = await asyncio.wait_for(agent.run("Why did the build fail?"), 30)
    assert result.stop_reason is StopReason.WALL_TIME
    assert result.error is not None and "compacting" in result.error


def test_report_round_trips() -> None:
    from gptoss_agent.agent.event_json import event_from_dict, event_to_dict

    event = ContextCompacted(CompactionReport(("elide_tool_outputs",), 900, 400, 120, 1000))
    assert event_from_dict(event_to_dict(event)) == event


@pytest.mark.parametrize("bad", [
    {"strategies": ("shrink",)}, {"threshold": 1.5}, {"threshold": 0}, {"target": 0.0},
    {"keep_recent": 0}, {"threshold": True},
])
def test_bad_configs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CompactionConfig(**bad)  # type: ignore[arg-type]
