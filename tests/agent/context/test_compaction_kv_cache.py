"""Compaction on the transformers backend: the KV cache re-prefills only what changed.

The model (a tiny random GptOss built in the test) runs every prompt for real; its turns
are forced by a script (``ScriptedBackend(through=...)``), since a random model knows no
tool episode.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import GenerationRequest, backend_context_window
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.backends.transformers.prefix_cache import common_prefix_length
from gptoss_agent.agent.context import CompactionConfig
from gptoss_agent.agent.events import ContextCompacted, UsageUpdated
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from tests.agent.backends.transformers.helpers import load
from tests.agent.context.episode import read_log, script


class Prefills(ScriptedBackend):
    """Forced turns through a real model, keeping each generation's prompt and prefill."""

    seen: list[tuple[tuple[int, ...], int]]

    async def generate(self, request: GenerationRequest):  # type: ignore[no-untyped-def, override]
        async for token in super().generate(request):
            yield token
        stats = self.last_stats(request.session_id)
        assert stats is not None
        self.seen = [*getattr(self, "seen", []), (request.prompt, stats.prefilled_tokens)]


@pytest.fixture
def model(tiny_model_dir: Path) -> Iterator[Any]:
    backend = load(tiny_model_dir)
    yield backend
    asyncio.run(backend.aclose())


async def test_the_checkpoint_says_its_window(model: Any) -> None:
    assert await backend_context_window(model) == model.model.config.max_position_embeddings


async def test_after_a_compaction_only_the_changed_tail_is_prefilled(
        model: Any, codec: HarmonyCodec) -> None:
    backend = Prefills(script(10), codec=codec, through=model)
    config = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.8, target=0.5,
                              keep_recent=1, reserve_tokens=64)
    agent = Agent(backend, [read_log], codec=codec, conversation_start_date="2026-11-28",
                  limits=LoopLimits(max_generations=20), context_window=1200,
                  compaction=config)
    events: list[object] = []
    result = await agent.run("Why did the build fail?", on_event=events.append)
    assert result.ok, result.error
    reports = [e.report for e in events if isinstance(e, ContextCompacted)]
    assert reports
    rewrites = []
    for (before, _), (prompt, prefilled) in itertools.pairwise(backend.seen):
        shared = common_prefix_length(before, prompt)
        if shared < len(before):  # compacted: the cache is reused up to the first change
            rewrites.append(shared)
            assert prefilled == len(prompt) - shared < len(prompt)
        else:  # appended only: the new tokens (the forced turn included), never the rest
            assert prefilled == len(prompt) - len(before)
    assert rewrites == [report.first_changed_token for report in reports]
    usage = next(e.usage for e in reversed(events) if isinstance(e, UsageUpdated))
    assert usage.prefilled_tokens == sum(prefilled for _, prefilled in backend.seen)
    assert usage.context_window == 1200 and usage.compactions == len(reports)
    assert model.counters.reused_tokens > 0
