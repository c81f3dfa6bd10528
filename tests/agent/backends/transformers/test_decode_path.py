"""The decode path's parts against transformers' own: the sink attention against the eager
gpt-oss attention, the growable cache against ``DynamicCache``, the compact output layer
against the full one with a mask."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from tests.agent.backends.conftest import need_torch


class _Module:
    """What the attention functions read from the attention layer."""

    def __init__(self, sinks: Any, groups: int) -> None:
        self.sinks = sinks
        self.num_key_value_groups = groups
        self.training = False


def _mask(q_len: int, kv_len: int, window: int | None, first_query: int | None = None) -> Any:
    import torch

    start = kv_len - q_len if first_query is None else first_query
    q_pos = torch.arange(start, start + q_len).unsqueeze(1)
    kv_pos = torch.arange(kv_len).unsqueeze(0)
    allowed = kv_pos <= q_pos
    if window is not None:
        allowed &= kv_pos > q_pos - window
    mask = torch.zeros(q_len, kv_len)
    mask.masked_fill_(~allowed, torch.finfo(torch.float32).min)
    return mask.view(1, 1, q_len, kv_len)


@pytest.mark.parametrize(("heads", "kv_heads", "q_len", "kv_len", "window"), [
    (8, 2, 1, 300, None),
    (8, 2, 1, 300, 32),
    (4, 4, 7, 50, None),
    (6, 2, 20, 90, 16),
    (4, 1, 5, 5, 8),
])
def test_sink_attention_equals_the_eager_attention(heads: int, kv_heads: int, q_len: int,
                                                  kv_len: int, window: int | None) -> None:
    need_torch()
    import torch
    from transformers.models.gpt_oss.modeling_gpt_oss import eager_attention_forward

    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    generator = torch.Generator().manual_seed(heads * 1000 + q_len)
    query = torch.randn(1, heads, q_len, 32, generator=generator)
    key = torch.randn(1, kv_heads, kv_len, 32, generator=generator) * 2
    value = torch.randn(1, kv_heads, kv_len, 32, generator=generator)
    module = _Module(torch.randn(heads, generator=generator) * 3, heads // kv_heads)
    mask = _mask(q_len, kv_len, window)
    expected, _ = eager_attention_forward(module, query, key, value, mask, scaling=32**-0.5)
    got, weights = sink_attention(module, query, key, value, mask, scaling=32**-0.5,
                                  sliding_window=window, **{QUERIES_LAST: True})
    assert weights is None
    assert got.shape == expected.shape == (1, q_len, heads, 32)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_sink_attention_skips_the_window_only_when_queries_are_last() -> None:
    """A static-cache layout: the keys buffer runs past the queries (its tail masked), so
    skipping by the window from the end would drop real keys."""
    need_torch()
    import torch
    from transformers.models.gpt_oss.modeling_gpt_oss import eager_attention_forward

    from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST, sink_attention

    generator = torch.Generator().manual_seed(3)
    query = torch.randn(1, 4, 2, 16, generator=generator)
    key = torch.randn(1, 2, 200, 16, generator=generator)
    value = torch.randn(1, 2, 200, 16, generator=generator)
    module = _Module(torch.randn(4, generator=generator), 2)
    mask = _mask(2, 200, 8, first_query=50)
    expected, _ = eager_attention_forward(module, query, key, value, mask, scaling=0.25)
    got, _ = sink_attention(module, query, key, value, mask, scaling=0.25, sliding_window=8)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    wrong, _ = sink_attention(module, query, key, value, mask, scaling=0.25, sliding_window=8,
                              **{QUERIES_LAST: True})
    assert not torch.allclose(wrong, expected, atol=1e-3)


def test_sink_attention_is_for_inference_only() -> None:
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.sink_attention import sink_attention

    tensor = torch.zeros(1, 2, 1, 4)
    with pytest.raises(ValueError, match="inference"):
        sink_attention(_Module(torch.zeros(2), 1), tensor, tensor, tensor, None,
                       scaling=1.0, dropout=0.1)
    trained = torch.zeros(1, 2, 1, 4, requires_grad=True)
    with pytest.raises(ValueError, match="inference"):
        sink_attention(_Module(torch.zeros(2), 1), trained, tensor, tensor, None, scaling=1.0)


def test_backend_switches_gpt_oss_to_the_sink_attention(tiny_model_dir: Path) -> None:
    from gptoss_agent.agent.backends.transformers.backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )
    from tests.agent.backends.transformers.helpers import load

    backend = load(tiny_model_dir)
    kept = load(tiny_model_dir, attn_implementation="eager")
    # A second backend on the already switched model (as benchmarks build them).
    sharing = TransformersBackend(backend.model, TransformersBackendConfig(model=""))
    try:
        assert backend.model.config._attn_implementation == "gptoss_agent_sinks"
        assert kept.model.config._attn_implementation == "eager"
        assert backend._runner.sink_attention and sharing._runner.sink_attention
        assert not kept._runner.sink_attention
    finally:
        for each in (backend, kept, sharing):
            asyncio.run(each.aclose())


def test_growable_cache_equals_dynamic_cache_through_growth_and_crops(
        tiny_model_dir: Path) -> None:
    need_torch()
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    from gptoss_agent.agent.backends.transformers.growable_cache import growable_cache

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True).eval()
    reference, growable = DynamicCache(), growable_cache()
    rng = random.Random(5)
    # Past the first capacity (256) twice, with crops that cut into reallocated buffers.
    steps = [("add", 200), ("add", 1), ("add", 90), ("crop", 40), ("add", 1), ("add", 300),
             ("crop", 333), ("add", 2), ("crop", 0), ("add", 1)]
    with torch.inference_mode():
        for action, count in steps:
            if action == "crop":
                reference.crop(-count)
                growable.crop(-count)
                assert growable.get_seq_length() == reference.get_seq_length()
                continue
            ids = torch.tensor([[rng.randrange(1000, 100_000) for _ in range(count)]])
            expected = model(input_ids=ids, cache=reference, use_cache=True).logits
            got = model(input_ids=ids, cache=growable, use_cache=True).logits
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
            assert growable.get_seq_length() == reference.get_seq_length()
    with pytest.raises(ValueError):
        growable.crop(3)


async def test_chunked_prefill_past_the_window_matches_eager_generate(
        tiny_model_dir: Path) -> None:
    """Sink attention and the growable cache together, through many small prefill chunks
    (each past the sliding window of 16, across the cache's first reallocation), give the
    tokens of transformers' eager attention and default cache."""
    import torch
    from transformers import AutoModelForCausalLM

    from tests.agent.backends.transformers.helpers import load

    prompt = tuple(random.Random(9).randrange(1000, 199_000) for _ in range(330))
    backend = load(tiny_model_dir, prefill_chunk=7)
    try:
        request = GenerationRequest(prompt=prompt, stop_tokens=frozenset(), session_id="p",
                                    sampling=SamplingParams(temperature=0.0, max_tokens=10))
        got = [token async for token in backend.generate(request)]
    finally:
        await backend.aclose()
    reference = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, local_files_only=True, attn_implementation="eager").eval()
    with torch.inference_mode():
        expected = reference.generate(torch.tensor([prompt]), max_new_tokens=10,
                                      do_sample=False)[0, len(prompt):].tolist()
    assert got == expected


def _restricted_copy(tiny_model_dir: Path, target: Path, allowed: list[int]) -> Path:
    shutil.copytree(tiny_model_dir, target)
    (target / "restricted_vocab.json").write_text(json.dumps({"ids": allowed}))
    return target


async def test_compact_head_gives_the_tokens_of_the_full_head_with_a_mask(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    from tests.agent.backends.transformers.helpers import load

    rng = random.Random(11)
    allowed = sorted({200002, 200012, *(rng.randrange(1000, 190_000) for _ in range(300))})
    prompt = tuple(rng.choice(allowed) for _ in range(40))
    model_dir = _restricted_copy(tiny_model_dir, tmp_path / "restricted", allowed)
    compact, masked = load(model_dir), load(model_dir, compact_head=False)
    assert compact._runner.head is not None and masked._runner.head is None
    sampling = SamplingParams(temperature=0.0, max_tokens=30)
    outputs: list[list[int]] = []
    try:
        for backend in (compact, masked):
            request = GenerationRequest(prompt=prompt, stop_tokens=frozenset(),
                                        sampling=sampling, session_id="c")
            first = [token async for token in backend.generate(request)]
            follow = GenerationRequest(prompt=prompt + tuple(first) + prompt[:5],
                                       stop_tokens=frozenset(), sampling=sampling,
                                       session_id="c")
            outputs.append(first + [token async for token in backend.generate(follow)])
    finally:
        await compact.aclose()
        await masked.aclose()
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 60 and set(outputs[0]) <= set(allowed)


def test_compact_head_is_only_built_for_plain_output_layers(tiny_model_dir: Path) -> None:
    need_torch()
    from transformers import AutoModelForCausalLM

    from gptoss_agent.agent.backends.transformers.compact_head import CompactHead

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True)
    head = CompactHead.build(model, [5, 3, 5, 200002])
    assert head is not None and head.token_ids == (3, 5, 200002)
    assert tuple(head.weight.shape) == (3, model.config.hidden_size)
    model.config.model_type = "not_gpt_oss"
    assert CompactHead.build(model, [3, 5]) is None
