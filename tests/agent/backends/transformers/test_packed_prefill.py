"""Prompt chunks of concurrent sessions packed into one forward pass: the packed attention
against each segment alone, and the backend's batched prefills against lone runs."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import SamplingParams
from tests.agent.backends.conftest import need_torch
from tests.agent.backends.transformers.helpers import generate, load, words


class _Module:
    def __init__(self, sinks: Any) -> None:
        self.sinks = sinks
        self.training = False


def _eager_mask(queries: int, length: int, window: int | None) -> Any:
    """transformers' rule, written out: see a key not after you, within the window."""
    import torch

    mask = torch.full((queries, length), torch.finfo(torch.float32).min)
    for row in range(queries):
        at = length - queries + row
        for key in range(length):
            if key <= at and (window is None or at - key < window):
                mask[row, key] = 0.0
    return mask.view(1, 1, queries, length)


@pytest.mark.parametrize("window", [None, 4])
def test_packed_attention_equals_each_segment_alone(window: int | None) -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.ragged_batch import RaggedRows
    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    generator = torch.Generator().manual_seed(3)
    # (cached before, new queries): a fresh prompt, a continuation, one token, a long chunk.
    shapes = ((0, 5), (7, 3), (12, 1), (2, 9))
    lengths = [before + new for before, new in shapes]
    counts = tuple(new for _, new in shapes)
    query = torch.randn(1, 8, sum(counts), 16, generator=generator)
    keys = tuple(torch.randn(1, 2, n, 16, generator=generator) for n in lengths)
    values = tuple(torch.randn(1, 2, n, 16, generator=generator) for n in lengths)
    module = _Module(torch.randn(8, generator=generator))
    options = {"sliding_window": window, QUERIES_LAST: True}
    got, weights = sink_attention(module, query, RaggedRows(keys, counts),
                                  RaggedRows(values, counts), None, 16**-0.5, **options)
    assert weights is None and got.shape == (1, sum(counts), 8, 16)
    start = 0
    for row, count in enumerate(counts):
        alone, _ = sink_attention(module, query[:, :, start : start + count], keys[row],
                                  values[row], _eager_mask(count, lengths[row], window),
                                  16**-0.5)
        torch.testing.assert_close(got[:, start : start + count], alone, rtol=1e-5, atol=1e-6)
        start += count


def test_packed_batches_refuse_what_they_cannot_serve() -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.growable_cache import growable_cache
    from gptoss_agent.agent.backends.transformers.ragged_batch import PackedBatchCache, RaggedRows
    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    shared = growable_cache()
    with pytest.raises(ValueError, match="a cache of its own"):
        PackedBatchCache([shared, shared], [1, 2])
    with pytest.raises(ValueError, match="one positive length per cache"):
        PackedBatchCache([growable_cache(), growable_cache()], [3, 0])
    batch = PackedBatchCache([growable_cache(), growable_cache()], [2, 3])
    with pytest.raises(ValueError, match="5 tokens got states"):
        batch.update(torch.zeros(1, 2, 4, 8), torch.zeros(1, 2, 4, 8), 0)
    with pytest.raises(RuntimeError, match="position_ids"):
        batch.get_seq_length()
    rows = RaggedRows((torch.zeros(1, 2, 5, 8), torch.zeros(1, 2, 3, 8)), (2, 3))
    module = _Module(torch.zeros(4))
    with pytest.raises(ValueError, match="its own masks"):
        sink_attention(module, torch.zeros(1, 4, 5, 8), rows, rows, torch.zeros(1), 1.0,
                       **{QUERIES_LAST: True})
    with pytest.raises(ValueError, match="one segment per row"):
        sink_attention(module, torch.zeros(1, 4, 4, 8), rows, rows, None, 1.0,
                       **{QUERIES_LAST: True})


@pytest.fixture
def chunked(tiny_model_dir: Path) -> Any:
    backend = load(tiny_model_dir, decode_batch=16, prefill_chunk=24)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture
def lone(tiny_model_dir: Path) -> Any:
    backend = load(tiny_model_dir, decode_batch=1, prefill_chunk=24)
    yield backend
    asyncio.run(backend.aclose())


# Across the tiny model's sliding window (16) and the chunk (24): one to four chunks each.
LENGTHS = (6, 20, 31, 70, 90)


async def test_concurrent_prefills_share_passes_and_equal_lone_runs(chunked: Any,
                                                                    lone: Any) -> None:
    rng = random.Random(31)
    prompts = [words(rng, length) for length in LENGTHS]
    settings = [SamplingParams(temperature=1.0, max_tokens=6, seed=seed) for seed in (4, 5)]
    settings += [SamplingParams(temperature=0.0, max_tokens=6)] * 3
    together = await asyncio.gather(*(
        generate(chunked, prompt, f"s{index}", sampling, frozenset())
        for index, (prompt, sampling) in enumerate(zip(prompts, settings, strict=True))
    ))
    alone = [await generate(lone, prompt, "one", sampling, frozenset())
             for prompt, sampling in zip(prompts, settings, strict=True)]
    assert list(together) == alone
    counters = chunked.counters
    assert counters.prefilled_tokens == sum(LENGTHS)
    assert counters.prefill_rows == sum(-(-length // 24) for length in LENGTHS)  # chunks
    assert counters.prefill_steps < counters.prefill_rows  # some chunks shared a pass
    assert lone.counters.prefill_steps == lone.counters.prefill_rows
    # The caches the packed passes extended serve the next turn like a lone run's.
    follow = [(*prompt, *tokens, *words(rng, 9)) for prompt, tokens in zip(prompts, together,
                                                                            strict=True)]
    again = await asyncio.gather(*(
        generate(chunked, prompt, f"s{index}", settings[2], frozenset())
        for index, prompt in enumerate(follow)
    ))
    assert all(chunked.last_stats(f"s{index}").prefilled_tokens == 1 + 9 for index in range(5))
    assert list(again) == [await generate(lone, prompt, "one", settings[2], frozenset())
                           for prompt in follow]


async def test_a_failed_packed_pass_fails_its_sessions_and_drops_their_caches(
    chunked: Any, lone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: Any, pieces: Any) -> Any:
        raise RuntimeError("out of memory in a packed pass")

    monkeypatch.setattr(chunked._runner, "_forward_packed", broken)
    rng = random.Random(32)
    prompts = [words(rng, length) for length in LENGTHS[:3]]
    greedy = SamplingParams(temperature=0.0, max_tokens=4)
    results = await asyncio.gather(*(
        generate(chunked, prompt, f"s{index}", greedy, frozenset())
        for index, prompt in enumerate(prompts)
    ), return_exceptions=True)
    failed = [result for result in results if isinstance(result, RuntimeError)]
    assert failed and all("packed pass" in str(result) for result in failed)
    assert all(chunked.cached_tokens(f"s{index}") == 0
               for index, result in enumerate(results) if isinstance(result, RuntimeError))
    monkeypatch.undo()
    recovered = await generate(chunked, prompts[0], "s0", greedy, frozenset())
    assert recovered == await generate(lone, prompts[0], "one", greedy, frozenset())
