"""Helpers of the transformers-backend tests: loading the tiny model, generating."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.base import GenerationRequest, ModelBackend, SamplingParams
from tests.agent.backends.conftest import need_torch
from tests.support import require_or_skip

STOPS = frozenset({200002, 200012})
GREEDY = SamplingParams(temperature=0.0, max_tokens=6)


def need_llguidance() -> None:
    """Skip locally without llguidance (constrained decoding); fail in CI."""
    require_or_skip(importlib.util.find_spec("llguidance") is not None,
                    "llguidance is not installed")


def load(model_dir: Path, **settings: Any) -> Any:
    need_torch()
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    return TransformersBackend.load(
        TransformersBackendConfig(model=str(model_dir), device="cpu", **settings)
    )


class ForwardCounter:
    """Counts the input tokens of every forward pass of a model."""

    def __init__(self, model: Any) -> None:
        self.tokens = 0
        self.calls = 0
        inner = model.forward

        def counted(*args: Any, **kwargs: Any) -> Any:
            ids = kwargs["input_ids"]
            self.tokens += int(ids.shape[1])
            self.calls += 1
            return inner(*args, **kwargs)

        model.forward = counted


def words(rng: random.Random, count: int) -> tuple[int, ...]:
    return tuple(rng.randrange(1000, 199_000) for _ in range(count))


async def generate(
    backend: ModelBackend,
    prompt: tuple[int, ...],
    session: str = "s",
    sampling: SamplingParams = GREEDY,
    stops: frozenset[int] = STOPS,
) -> list[int]:
    request = GenerationRequest(
        prompt=prompt, stop_tokens=stops, sampling=sampling, session_id=session
    )
    return [token async for token in backend.generate(request)]
