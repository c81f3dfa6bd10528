"""The in-process transformers backend on a tiny random GptOss model.

Every prompt here is longer than the model's sliding window (16 tokens), so the cache of
the sliding-window layers is exercised past its window, including when it is cropped.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, ModelBackend, SamplingParams
from gptoss_agent.agent.backends.errors import BackendUnavailableError
from tests.agent.backends.conftest import need_torch
from tests.agent.backends.transformers.helpers import (
    STOPS,
    ForwardCounter,
    generate,
    load,
    words,
)


@pytest.fixture
def backends(tiny_model_dir: Path) -> Iterator[tuple[Any, Any]]:
    reusing = load(tiny_model_dir)
    fresh = load(tiny_model_dir, reuse_cache=False)
    yield reusing, fresh
    asyncio.run(reusing.aclose())
    asyncio.run(fresh.aclose())


async def test_reuse_equals_fresh_and_prefills_only_the_appended_tokens(
    backends: tuple[Any, Any],
) -> None:
    reusing, fresh = backends
    counter = ForwardCounter(reusing.model)
    rng = random.Random(1)
    prompt = words(rng, 120)
    previous: tuple[int, ...] = ()
    for turn in range(4):
        before = counter.tokens
        out = await generate(reusing, prompt)
        assert out == await generate(fresh, prompt), f"turn {turn} differs from a fresh run"
        stats = reusing.last_stats("s")
        assert stats is not None
        expected_prefill = len(prompt) if turn == 0 else len(prompt) - (len(previous) - 1)
        assert stats.prefilled_tokens == expected_prefill
        assert stats.prompt_tokens == len(prompt)
        assert stats.sampled_tokens == len(out)
        # The model itself saw exactly the prefill plus one token per decode step.
        assert counter.tokens - before == expected_prefill + len(out) - 1
        if turn:
            assert fresh.last_stats("s").prefilled_tokens == len(prompt)
        previous = prompt + tuple(out)
        prompt = previous + words(rng, 40)  # a tool result arrives


async def test_history_rewrite_reuses_the_common_prefix(backends: tuple[Any, Any]) -> None:
    reusing, fresh = backends
    rng = random.Random(2)
    prompt = words(rng, 90)
    out = await generate(reusing, prompt)
    prompt = prompt + tuple(out) + words(rng, 50)
    out = await generate(reusing, prompt)
    # Drop a middle chunk (as when a turn's analysis is removed after its final).
    rewritten = prompt[:60] + prompt[80:] + tuple(out) + words(rng, 10)
    counter = ForwardCounter(reusing.model)
    again = await generate(reusing, rewritten)
    assert again == await generate(fresh, rewritten)
    stats = reusing.last_stats("s")
    assert stats is not None
    assert stats.prefilled_tokens == len(rewritten) - 60
    assert counter.tokens == len(rewritten) - 60 + len(again) - 1
    assert reusing.cached_tokens("s") == len(rewritten) + len(again) - 1


async def test_greedy_matches_transformers_generate(backends: tuple[Any, Any],
                                                    tiny_model_dir: Path) -> None:
    """The backend's decode path (sink attention, growable cache) gives the tokens of
    transformers' own generate with its eager attention and default cache."""
    import torch
    from transformers import AutoModelForCausalLM

    reusing, _ = backends
    prompt = words(random.Random(3), 70)
    out = await generate(reusing, prompt, sampling=SamplingParams(temperature=0, max_tokens=8))
    reference_model = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, local_files_only=True, attn_implementation="eager").eval()
    with torch.inference_mode():
        reference = reference_model.generate(
            torch.tensor([prompt]), max_new_tokens=8, do_sample=False, eos_token_id=list(STOPS)
        )
    assert reference_model.config._attn_implementation == "eager"
    assert out == reference[0, len(prompt) :].tolist()


async def test_stops_on_a_stop_token_and_yields_it_last(backends: tuple[Any, Any]) -> None:
    reusing, _ = backends
    prompt = words(random.Random(4), 50)
    free = await generate(reusing, prompt, "free", SamplingParams(temperature=0, max_tokens=10))
    index = next(i for i in range(2, 10) if free[i] not in free[:i])
    stopped = await generate(
        reusing,
        prompt,
        "stopped",
        SamplingParams(temperature=0, max_tokens=10),
        stops=frozenset({free[index]}),
    )
    assert stopped == free[: index + 1]
    assert reusing.last_stats("stopped").sampled_tokens == index + 1


async def test_max_tokens_truncates_without_a_stop_token(backends: tuple[Any, Any]) -> None:
    reusing, _ = backends
    out = await generate(
        reusing, words(random.Random(5), 40), sampling=SamplingParams(temperature=0, max_tokens=3)
    )
    assert len(out) == 3
    assert not set(out) & STOPS


async def test_tokens_stream_before_generation_finishes(backends: tuple[Any, Any]) -> None:
    reusing, _ = backends
    prompt = words(random.Random(6), 40)
    request = GenerationRequest(
        prompt=prompt,
        stop_tokens=frozenset(),
        sampling=SamplingParams(temperature=0, max_tokens=50),
    )
    stream = reusing.generate(request)
    await stream.__anext__()
    # Only the prompt has been run: no decode step happened before the first token arrived.
    assert reusing.counters.decoded_tokens == 0
    assert reusing.cached_tokens("default") == len(prompt)
    await stream.__anext__()
    assert reusing.counters.decoded_tokens == 1
    await stream.aclose()
    stats = reusing.last_stats("default")
    assert stats is not None and stats.sampled_tokens == 2
    assert reusing.cached_tokens("default") == len(prompt) + 1
    # The abandoned generation left a consistent cache that the next turn reuses.
    longer = (*prompt, 111, 222, 333)
    await generate(reusing, longer, "default")
    assert reusing.last_stats("default").prefilled_tokens == 3


async def test_seeded_sampling_is_reproducible(backends: tuple[Any, Any]) -> None:
    reusing, _ = backends
    prompt = words(random.Random(7), 30)
    hot = SamplingParams(temperature=1.0, max_tokens=8, seed=5)
    first = await generate(reusing, prompt, "a", hot)
    assert await generate(reusing, prompt, "b", hot) == first
    other = await generate(
        reusing, prompt, "c", SamplingParams(temperature=1.0, max_tokens=8, seed=6)
    )
    assert other != first
    greedy = await generate(reusing, prompt, "d", SamplingParams(temperature=0, max_tokens=8))
    narrow = SamplingParams(temperature=1.0, top_p=1e-9, max_tokens=8, seed=1)
    assert await generate(reusing, prompt, "e", narrow) == greedy


async def test_concurrent_sessions_equal_sequential_runs(backends: tuple[Any, Any]) -> None:
    reusing, fresh = backends
    rng = random.Random(8)
    prompts = [words(rng, 40 + 10 * i) for i in range(3)]
    together = await asyncio.gather(
        *(generate(reusing, p, f"session-{i}") for i, p in enumerate(prompts))
    )
    alone = [await generate(fresh, p, "one") for p in prompts]
    assert list(together) == alone


async def test_release_and_session_bound(tiny_model_dir: Path) -> None:
    backend = load(tiny_model_dir, max_sessions=1)
    try:
        prompt = words(random.Random(9), 30)
        await generate(backend, prompt, "a")
        assert backend.cached_tokens("a") > 0
        await generate(backend, prompt, "b")  # evicts "a"
        assert backend.cached_tokens("a") == 0
        await generate(backend, (*prompt, 5), "b")
        assert backend.last_stats("b").prefilled_tokens < len(prompt)
        await backend.release("b")
        assert backend.cached_tokens("b") == 0 and backend.last_stats("b") is None
    finally:
        await backend.aclose()
        await backend.aclose()  # idempotent
    with pytest.raises(BackendUnavailableError):
        await generate(backend, (1, 2, 3))


async def test_empty_prompt_is_rejected(backends: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError):
        await generate(backends[0], ())


def test_typed_config_loads_by_path_in_the_dtype_asked_for(tiny_model_dir: Path) -> None:
    need_torch()
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig

    config = TransformersBackendConfig(model=str(tiny_model_dir), device="cpu", dtype="float32")
    backend = TransformersBackend.load(config)
    try:
        assert isinstance(backend, ModelBackend)
        assert str(next(backend.model.parameters()).dtype) == "torch.float32"
    finally:
        asyncio.run(backend.aclose())
    assert backend.model is None


def test_config_refuses_an_unknown_dtype() -> None:
    from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig

    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16"):
        TransformersBackendConfig(model="m", dtype="int3")  # type: ignore[arg-type]


async def test_restricted_vocabulary_is_never_left_when_sampling(tmp_path: Path,
                                                                  tiny_model_dir: Path) -> None:
    import json
    import shutil

    model_dir = tmp_path / "restricted"
    shutil.copytree(tiny_model_dir, model_dir)
    allowed = [200002, 200012, *range(1000, 1050)]
    (model_dir / "restricted_vocab.json").write_text(json.dumps({"ids": allowed}))
    backend = load(model_dir)
    sampling = SamplingParams(temperature=1.0, max_tokens=40, seed=7)
    try:
        request = GenerationRequest(prompt=(200006, 1428, 200008, 3686, 200007),
                                    stop_tokens=STOPS, sampling=sampling, session_id="r")
        sampled = [token async for token in backend.generate(request)]
    finally:
        await backend.aclose()
    assert sampled and set(sampled) <= set(allowed)
