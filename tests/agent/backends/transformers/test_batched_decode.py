"""Decode steps shared by concurrent sessions: the ragged attention against row-by-row
attention, and the backend's batched sessions against the same sessions run alone."""

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


@pytest.mark.parametrize(("lengths", "window"), [
    ((3, 40, 300), None),  # short rows: one padded batch
    ((3, 40, 300), 16),  # a sliding layer: each row's window, padded
    ((40, 300, 90), 16),  # every row past the window: stacked, no padding
    ((3, 40, 1100), None),  # a long row by itself (not copied), the short ones padded
    ((1100, 1500, 1030), None),  # long rows only
    ((1100, 2, 1500), 64),
])
def test_ragged_attention_equals_each_row_alone(lengths: tuple[int, ...],
                                                window: int | None) -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.ragged_batch import RaggedRows
    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    generator = torch.Generator().manual_seed(11)
    query = torch.randn(len(lengths), 8, 1, 32, generator=generator)
    keys = tuple(torch.randn(1, 2, n, 32, generator=generator) * 2 for n in lengths)
    values = tuple(torch.randn(1, 2, n, 32, generator=generator) for n in lengths)
    module = _Module(torch.randn(8, generator=generator) * 3)
    options = {"sliding_window": window, QUERIES_LAST: True}
    got, weights = sink_attention(module, query, RaggedRows(keys), RaggedRows(values), None,
                                  scaling=32**-0.5, **options)
    assert weights is None and got.shape == (3, 1, 8, 32)
    for row in range(len(lengths)):
        alone, _ = sink_attention(module, query[row : row + 1], keys[row], values[row], None,
                                  scaling=32**-0.5, **options)
        torch.testing.assert_close(got[row : row + 1], alone, rtol=1e-5, atol=1e-6)
    if window is not None:  # the long row saw its window only
        longest, _ = sink_attention(module, query[2:], keys[2][:, :, -window:],
                                    values[2][:, :, -window:], None, scaling=32**-0.5)
        torch.testing.assert_close(got[2:], longest, rtol=1e-5, atol=1e-6)


def test_ragged_batches_are_refused_outside_a_decode_step() -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.growable_cache import growable_cache
    from gptoss_agent.agent.backends.transformers.ragged_batch import RaggedBatchCache, RaggedRows
    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    module = _Module(torch.zeros(4))
    rows = RaggedRows((torch.zeros(1, 2, 5, 8), torch.zeros(1, 2, 9, 8)))
    last = {QUERIES_LAST: True}
    with pytest.raises(ValueError, match="decode step"):
        sink_attention(module, torch.zeros(2, 4, 1, 8), rows, rows, torch.zeros(1), 1.0, **last)
    with pytest.raises(ValueError, match="decode step"):
        sink_attention(module, torch.zeros(2, 4, 2, 8), rows, rows, None, 1.0, **last)
    with pytest.raises(ValueError, match="decode step"):
        sink_attention(module, torch.zeros(2, 4, 1, 8), rows, rows, None, 1.0)
    with pytest.raises(ValueError, match="one row per query row"):
        sink_attention(module, torch.zeros(3, 4, 1, 8), rows, rows, None, 1.0, **last)
    shared = growable_cache()
    with pytest.raises(ValueError, match="a cache of its own"):
        RaggedBatchCache([shared, shared])
    batch = RaggedBatchCache([growable_cache(), growable_cache()])
    with pytest.raises(ValueError, match="2 rows got 3 rows"):
        batch.update(torch.zeros(3, 2, 1, 8), torch.zeros(3, 2, 1, 8), 0)
    with pytest.raises(RuntimeError, match="position_ids"):
        batch.get_seq_length()


@pytest.fixture
def batching(tiny_model_dir: Path) -> Any:
    backend = load(tiny_model_dir, decode_batch=16)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture
def lone(tiny_model_dir: Path) -> Any:
    backend = load(tiny_model_dir, decode_batch=1)
    yield backend
    asyncio.run(backend.aclose())


# Prompts on both sides of the tiny model's sliding window (16), of different lengths.
LENGTHS = (5, 17, 40, 90, 130)


async def test_concurrent_sessions_share_decode_steps_and_equal_lone_runs(
    batching: Any, lone: Any
) -> None:
    rng = random.Random(21)
    prompts = [words(rng, length) for length in LENGTHS]
    greedy = SamplingParams(temperature=0.0, max_tokens=12)
    together = await asyncio.gather(*(
        generate(batching, prompt, f"s{index}", greedy, frozenset())
        for index, prompt in enumerate(prompts)
    ))
    alone = [await generate(lone, prompt, "one", greedy, frozenset()) for prompt in prompts]
    assert list(together) == alone
    assert all(len(tokens) == 12 for tokens in together)
    counters = batching.counters
    decode_passes = counters.forward_passes - counters.prefill_steps  # prompts may share one
    assert counters.decoded_tokens == 5 * 11
    assert counters.batched_decode_steps >= 10
    assert counters.decode_steps == decode_passes
    assert counters.decode_seconds > 0 and counters.prefill_seconds > 0
    assert decode_passes < counters.decoded_tokens / 2
    assert lone.counters.batched_decode_steps == 0

    # The caches the batched steps extended serve the next turn as a lone run's would.
    follow = [(*prompt, *tokens, *words(rng, 7)) for prompt, tokens in zip(prompts, together,
                                                                            strict=True)]
    again = await asyncio.gather(*(
        generate(batching, prompt, f"s{index}", greedy, frozenset())
        for index, prompt in enumerate(follow)
    ))
    assert all(batching.last_stats(f"s{index}").prefilled_tokens == 1 + 7
               for index in range(5))  # the last sampled token was never fed back
    assert list(again) == [await generate(lone, prompt, "one", greedy, frozenset())
                           for prompt in follow]


async def test_batched_sessions_keep_their_own_sampling(batching: Any, lone: Any) -> None:
    rng = random.Random(22)
    prompts = [words(rng, length) for length in LENGTHS[:3]]
    settings = [SamplingParams(temperature=1.0, max_tokens=10, seed=seed) for seed in (1, 2)]
    settings.append(SamplingParams(temperature=0.0, max_tokens=10))
    together = await asyncio.gather(*(
        generate(batching, prompt, f"s{index}", sampling, frozenset())
        for index, (prompt, sampling) in enumerate(zip(prompts, settings, strict=True))
    ))
    alone = [await generate(lone, prompt, "one", sampling, frozenset())
             for prompt, sampling in zip(prompts, settings, strict=True)]
    assert list(together) == alone
    assert batching.counters.batched_decode_steps > 0


async def test_a_failed_batched_step_fails_its_sessions_and_drops_their_caches(
    batching: Any, lone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: Any, tokens: Any) -> Any:
        raise RuntimeError("out of memory in a batched step")

    forward = batching._runner._forward

    def broken_alone(entry: Any, tokens: Any) -> Any:
        if len(tokens) == 1:  # a decode step that ran alone: a session ahead of the others
            raise RuntimeError("out of memory in a batched step")
        return forward(entry, tokens)

    monkeypatch.setattr(batching._runner, "_forward_ragged", broken)
    # Which sessions share a step depends on timing (a loaded machine may let one session
    # decode alone); every decode step fails, so every session must fail cleanly.
    monkeypatch.setattr(batching._runner, "_forward", broken_alone)
    rng = random.Random(23)
    prompts = [words(rng, length) for length in LENGTHS[:3]]
    greedy = SamplingParams(temperature=0.0, max_tokens=8)
    results = await asyncio.gather(*(
        generate(batching, prompt, f"s{index}", greedy, frozenset())
        for index, prompt in enumerate(prompts)
    ), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) and "batched step" in str(result)
               for result in results)
    assert all(batching.cached_tokens(f"s{index}") == 0 for index in range(3))
    monkeypatch.undo()
    recovered = await generate(batching, prompts[0], "s0", greedy, frozenset())
    assert recovered == await generate(lone, prompts[0], "one", greedy, frozenset())


async def test_a_session_that_stops_listening_leaves_the_batch(batching: Any,
                                                               lone: Any) -> None:
    rng = random.Random(24)
    prompts = [words(rng, length) for length in LENGTHS[:3]]
    greedy = SamplingParams(temperature=0.0, max_tokens=10)
    first_token = asyncio.Event()

    async def listen_then_hang() -> None:
        async for _ in batching.generate(_request(prompts[0], "quitter", greedy)):
            first_token.set()

    quitter = asyncio.create_task(listen_then_hang())
    kept = [asyncio.create_task(generate(batching, prompt, f"s{index}", greedy, frozenset()))
            for index, prompt in enumerate(prompts[1:])]
    await first_token.wait()
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    results = await asyncio.gather(*kept)
    assert results == [await generate(lone, prompt, "one", greedy, frozenset())
                       for prompt in prompts[1:]]
    # Whatever the quitter's cache holds, it holds consistently: a new turn of that
    # session equals a lone run and leaves the cache at the expected length.
    again = await generate(batching, prompts[0], "quitter", greedy, frozenset())
    assert again == await generate(lone, prompts[0], "one", greedy, frozenset())
    assert batching.cached_tokens("quitter") == len(prompts[0]) + len(again) - 1


async def test_release_waits_for_the_sessions_generation(batching: Any, lone: Any) -> None:
    """A release, then a new generation, of a session that is generating: they take
    turns, and the other sessions of the batch never notice."""
    rng = random.Random(25)
    first, other, after = (words(rng, length) for length in LENGTHS[1:4])
    greedy = SamplingParams(temperature=0.0, max_tokens=10)
    started = asyncio.Event()

    async def generating() -> list[int]:
        tokens = []
        async for token in batching.generate(_request(first, "s", greedy)):
            tokens.append(token)
            started.set()
        return tokens

    running = asyncio.create_task(generating())
    beside = asyncio.create_task(generate(batching, other, "o", greedy, frozenset()))
    await started.wait()
    released = asyncio.create_task(batching.release("s"))
    following = asyncio.create_task(generate(batching, after, "s", greedy, frozenset()))
    results = await asyncio.gather(running, beside, released, following)
    assert results[0] == await generate(lone, first, "one", greedy, frozenset())
    assert results[1] == await generate(lone, other, "one", greedy, frozenset())
    assert results[3] == await generate(lone, after, "one", greedy, frozenset())
    assert batching.last_stats("s").prefilled_tokens == len(after)  # released: no reuse


async def test_a_failed_draw_fails_its_session_only(batching: Any, lone: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    draws = {"unlucky": 0}
    original = batching._runner.sample

    def flaky(logits: Any, sampling: SamplingParams, generator: Any) -> int:
        if sampling.seed == 13:
            draws["unlucky"] += 1
            if draws["unlucky"] == 3:  # a decode step's draw, not the prefill's
                raise RuntimeError("the draw failed")
        return original(logits, sampling, generator)

    monkeypatch.setattr(batching._runner, "sample", flaky)
    rng = random.Random(26)
    prompts = [words(rng, length) for length in LENGTHS[:3]]
    settings = [SamplingParams(temperature=0.0, max_tokens=8, seed=seed) for seed in (13, 1, 2)]
    results = await asyncio.gather(*(
        generate(batching, prompt, f"s{index}", sampling, frozenset())
        for index, (prompt, sampling) in enumerate(zip(prompts, settings, strict=True))
    ), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and "the draw failed" in str(results[0])
    assert results[1:] == [await generate(lone, prompt, "one", sampling, frozenset())
                           for prompt, sampling in zip(prompts[1:], settings[1:], strict=True)]
    assert batching.counters.batched_decode_steps > 0


def _request(prompt: tuple[int, ...], session: str, sampling: SamplingParams) -> Any:
    from gptoss_agent.agent.backends.base import GenerationRequest

    return GenerationRequest(prompt=prompt, stop_tokens=frozenset(), sampling=sampling,
                             session_id=session)


def test_decode_batch_must_be_positive() -> None:
    need_torch()
    from gptoss_agent.agent.backends.transformers.backend import TransformersBackendConfig

    with pytest.raises(ValueError, match="decode_batch must be >= 1"):
        TransformersBackendConfig(model="m", decode_batch=0)


async def test_a_long_prompt_does_not_hold_up_other_sessions(tiny_model_dir: Path) -> None:
    """A prompt is prefilled chunk by chunk, one worker job each, so a session that is
    decoding keeps receiving tokens while another session's long prompt is read."""
    backend = load(tiny_model_dir, prefill_chunk=8)
    try:
        rng = random.Random(27)
        events: list[str] = []
        decoding = asyncio.Event()

        async def talker() -> None:
            sampling = SamplingParams(temperature=0.0, max_tokens=60)
            async for _ in backend.generate(_request(words(rng, 10), "talker", sampling)):
                events.append("talker")
                decoding.set()

        async def reader() -> None:
            await decoding.wait()
            events.append("reader starts")
            sampling = SamplingParams(temperature=0.0, max_tokens=1)
            async for _ in backend.generate(_request(words(rng, 240), "reader", sampling)):
                events.append("reader's first token")

        await asyncio.gather(talker(), reader())
        start, first = events.index("reader starts"), events.index("reader's first token")
        # 240 prompt tokens are 30 chunks; the talker decodes between them.
        assert events[start:first].count("talker") >= 10
        assert backend.last_stats("reader").prefilled_tokens == 240
    finally:
        await backend.aclose()


async def test_a_turn_stopped_during_its_prefill_reports_what_was_computed(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = load(tiny_model_dir, prefill_chunk=8)
    try:
        pieces = 0
        five_done = asyncio.Event()
        loop = asyncio.get_running_loop()
        real_piece = backend._runner.prefill_piece

        def counted(*args: Any) -> Any:
            nonlocal pieces
            result = real_piece(*args)
            pieces += 1
            if pieces == 5:
                loop.call_soon_threadsafe(five_done.set)  # this runs on the worker
            return result

        monkeypatch.setattr(backend._runner, "prefill_piece", counted)
        prompt = words(random.Random(28), 240)
        reading = asyncio.create_task(
            generate(backend, prompt, "s", SamplingParams(temperature=0.0, max_tokens=4),
                     frozenset()))
        await five_done.wait()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        stats = backend.last_stats("s")
        # The fifth chunk may still be on its way back when the turn is cancelled.
        assert 4 * 8 <= stats.prefilled_tokens < 240 and stats.prefilled_tokens % 8 == 0
        assert stats.sampled_tokens == 0
        assert stats.prefilled_tokens <= backend.cached_tokens("s")
    finally:
        await backend.aclose()
