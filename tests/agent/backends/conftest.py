"""Fixtures of the backend tests: tiny GptOss checkpoints built once per test session."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.support import require_or_skip

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HAS_TORCH = all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


def need_torch() -> None:
    """Skip locally without torch/transformers; fail in CI."""
    require_or_skip(HAS_TORCH, "torch and transformers are not installed")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny GptOss checkpoint (sliding window 16, so prompts cross it)."""
    need_torch()
    import torch

    torch.set_num_threads(1)
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-gptoss"), seed=1234)
