"""Compact checkpoints: packed small, expanded once into the user cache, loaded by path."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from tests.agent.backends.conftest import need_torch


@pytest.fixture
def restricted_checkpoint(tmp_path: Path) -> tuple[Path, tuple[int, ...]]:
    need_torch()
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model
    from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab

    folder = build_tiny_model(tmp_path / "trained", seed=8)
    rng = random.Random(8)
    ids = tuple(sorted({200002, 200012, *(rng.randrange(1000, 150_000) for _ in range(200))}))
    RestrictedVocab(ids, 201_088).save(folder)
    return folder, ids


async def _greedy(model: str, prompt: tuple[int, ...]) -> list[int]:
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig

    backend = TransformersBackend.load(TransformersBackendConfig(model=model, device="cpu"))
    try:
        request = GenerationRequest(prompt=prompt, stop_tokens=frozenset(), session_id="g",
                                    sampling=SamplingParams(temperature=0.0, max_tokens=12))
        return [token async for token in backend.generate(request)]
    finally:
        await backend.aclose()


def test_pack_then_load_the_compact_folder_by_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        restricted_checkpoint: tuple[Path, tuple[int, ...]]) -> None:
    from transformers.utils import logging as hf_logging

    from gptoss_agent.agent.backends.transformers.compact import is_compact, materialize
    from gptoss_agent.agent.finetune.pack import pack

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    trained, ids = restricted_checkpoint
    compact = pack(trained, tmp_path / "shipped", {"seed": 8})
    assert is_compact(compact) and not is_compact(trained)
    size = sum(path.stat().st_size for path in compact.iterdir())
    full_size = sum(path.stat().st_size for path in trained.iterdir())
    assert size * 5 < full_size  # the point of packing

    prompt = tuple(random.Random(1).choice(ids) for _ in range(30))
    expected = asyncio.run(_greedy(str(trained), prompt))
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as by default: hidden by the backend, not by chance
    capfd.readouterr()
    try:
        got = asyncio.run(_greedy(str(compact), prompt))  # expands into the cache first
    finally:
        if not was:
            hf_logging.disable_progress_bar()
    drawn = capfd.readouterr().err
    assert "Writing model shards" not in drawn and "Loading weights" not in drawn
    assert got == expected and set(got) <= set(ids)

    expanded = materialize(compact)
    assert expanded.parent == tmp_path / "cache" / "gptoss-agent"
    assert (expanded / "provenance.json").read_text() == (compact / "provenance.json").read_text()
    stamp = (expanded / "config.json").stat().st_mtime_ns
    assert materialize(compact) == expanded  # expanded once, then reused
    assert (expanded / "config.json").stat().st_mtime_ns == stamp


def test_pack_refuses_a_checkpoint_without_a_restricted_vocabulary(tmp_path: Path) -> None:
    need_torch()
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model
    from gptoss_agent.agent.finetune.pack import pack

    folder = build_tiny_model(tmp_path / "plain", seed=2)
    with pytest.raises(ValueError, match="no restricted vocabulary"):
        pack(folder, tmp_path / "out", {})
