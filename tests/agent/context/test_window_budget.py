"""The window is known, every generation fits it, and ``context_full`` when nothing fits."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, backend_context_window
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.events import RunFinished, UsageUpdated
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.result import StopReason
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from tests.agent.context.episode import episode_agent


class Recording(ScriptedBackend):
    """The scripted backend, keeping every request (to check the budgets it was given)."""

    requests: list[GenerationRequest]

    def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        self.requests = [*getattr(self, "requests", []), request]
        return super().generate(request)


async def test_the_configured_window_wins_over_the_backend(codec: HarmonyCodec) -> None:
    agent, backend = episode_agent(codec, 1, window=5000, backend_window=100_000)
    assert await backend_context_window(backend) == 100_000
    result = await agent.run("Why did the build fail?")
    assert result.stop_reason is StopReason.FINAL
    assert result.usage.context_window == 5000
    assert 0 < result.usage.context_tokens < 5000
    assert result.usage.context_fill == result.usage.context_tokens / 5000


async def test_the_backend_window_is_used_and_shown_live(codec: HarmonyCodec) -> None:
    agent, _ = episode_agent(codec, 2, window=None, backend_window=4096)
    events = []
    await agent.run("Why did the build fail?", on_event=events.append)
    fills = [e.usage.context_tokens for e in events if isinstance(e, UsageUpdated)]
    assert all(e.usage.context_window == 4096 for e in events if isinstance(e, UsageUpdated))
    assert fills == sorted(fills) and len(fills) == 3  # the window fills as the run goes


async def test_without_a_window_nothing_changes(codec: HarmonyCodec) -> None:
    agent, backend = episode_agent(codec, 3, window=None)
    result = await agent.run("Why did the build fail?")
    assert result.ok and result.usage.context_window == 0 and result.usage.compactions == 0
    assert result.usage.context_fill is None
    backend.assert_finished()


async def test_the_generation_budget_is_cut_to_the_room_left(codec: HarmonyCodec) -> None:
    agent, backend = episode_agent(codec, 2, window=1200, backend_type=Recording)
    assert isinstance(backend, Recording)
    result = await agent.run("Why did the build fail?")
    assert result.ok
    for request in backend.requests:
        assert len(request.prompt) + request.sampling.max_tokens <= 1200
    assert backend.requests[-1].sampling.max_tokens < agent.sampling.max_tokens


async def test_context_full_stops_cleanly_without_sending_the_prompt(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    agent, backend = episode_agent(codec, 20, window=1500,
                                   compaction=CompactionConfig(strategies=()))
    writer = TranscriptWriter(tmp_path / "t.jsonl")
    events: list[object] = []
    async with agent.session(transcript=writer) as session:
        result = await session.send("Why did the build fail?", on_event=events.append)
    assert result.stop_reason is StopReason.CONTEXT_FULL
    assert result.error is not None and "no compaction is configured" in result.error
    assert "1500-token context window" in result.error
    assert all(len(p) + 256 <= 1500 for p in backend.prompts)  # never an over-long prompt
    assert backend.remaining > 0  # the rest of the script was never asked for
    assert isinstance(events[-1], RunFinished)
    records = read_records(tmp_path / "t.jsonl")
    finished = [r for r in records if r["type"] == "run_finished"]
    assert finished[-1]["result"]["stop_reason"] == "context_full"
    # Every call the model made was answered before the stop.
    calls = sum(1 for m in result.messages if m.recipient is not None)
    answers = sum(1 for m in result.messages if m.role == "tool")
    assert calls == answers > 0


def test_bad_windows_are_refused(codec: HarmonyCodec) -> None:
    with pytest.raises(ValueError, match="context_window"):
        episode_agent(codec, 1, window=0)


async def test_usage_round_trips_through_event_json(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.event_json import event_from_dict, event_to_dict

    agent, _ = episode_agent(codec, 1, window=3000)
    events: list[object] = []
    await agent.run("Why?", on_event=events.append)
    usage = next(e for e in events if isinstance(e, UsageUpdated))
    again = event_from_dict(event_to_dict(usage))
    assert isinstance(again, UsageUpdated)
    assert dataclasses.asdict(again.usage) == dataclasses.asdict(usage.usage)
    assert again.usage.context_window == 3000
